// A client that dies (SIGKILL) inside a blocking hook, for client_killed_mid_hook (client_kill_test.sh): the
// server's backward is left waiting on a client that will never answer.
#include <csignal>
#include <iostream>

#include "client/remote.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: hook_client HOST:PORT\n";
    return 2;
  }
  td::remote::Client client(argv[1]);
  td::remote::Session s = client.create_session("dies mid-hook", "cpu");
  td::remote::Tensor w = s.tensor<float>({1, 2, 3}, {3}, true);
  w.register_hook([](const td::remote::Tensor&) -> std::optional<td::remote::Tensor> {
    std::cout << "in the hook: killing myself" << std::endl;
    std::raise(SIGKILL);
    return std::nullopt;
  });
  std::cout << "session " << s.id() << std::endl;
  w.mul(2.0).sum().backward();
  std::cout << "backward returned: the hook did not run" << std::endl;
  return 1;
}
