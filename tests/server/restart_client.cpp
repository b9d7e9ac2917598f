// Trains against a real tensord that restart_test.sh stops with SIGTERM and starts again with --restore while
// this client keeps going. Prints "ready" once the run is under way, trains until the file named by its second
// argument exists (the server is back) and a few steps more, then checks the result against the same steps
// run in a fresh session from the checkpoint taken before the restart: "match" and exit 0, or exit 1.
#include <filesystem>
#include <iostream>

#include "tests/server/hooked_run.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: restart_client HOST:PORT RESTARTED_FILE\n";
    return 2;
  }
  td::remote::ClientOptions options;
  options.reconnect_timeout = std::chrono::seconds(60);  // longer than the restart takes
  td::remote::Client client(argv[1], options);
  td::remote::Session s = client.create_session("restarted under me", "cpu");
  td::testing::HookedRun run(s);
  run.steps(3);
  td::remote::save_checkpoint(s, "step3", run.parts());
  std::cout << "ready " << s.id() << std::endl;
  int steps = 0, after = 0;
  while (after < 3) {
    run.steps(1);
    ++steps;
    if (std::filesystem::exists(argv[2])) ++after;
  }
  const std::vector<float> got = run.params();
  std::cout << steps << " steps after the checkpoint, " << run.hook_calls.load() << " hook calls" << std::endl;

  td::remote::Session fresh = client.create_session("reference", "cpu");
  td::testing::HookedRun ref(fresh);
  td::remote::load_checkpoint(fresh, "step3", ref.parts());
  ref.steps(steps);
  const bool ok = got == ref.params() && run.hook_calls.load() == 3 + steps && run.opt.lr() == ref.opt.lr();
  std::cout << (ok ? "match" : "MISMATCH") << std::endl;
  return ok ? 0 : 1;
}
