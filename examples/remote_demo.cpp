// The walking-skeleton demo: a thin client drives a tensord session. It uploads two tensors, pipelines
// matmul + sum, registers a tensor hook that runs here while the server runs backward (and doubles the
// gradient), downloads a gradient, and shows that a bad op fails cleanly without ending the session.
#include <cstdio>
#include <iostream>

#include "client/remote.h"

using td::remote::Tensor;

namespace {
void print(const char* name, const std::vector<float>& v) {
  std::printf("%s = [", name);
  for (size_t i = 0; i < v.size(); ++i) std::printf(i ? ", %g" : "%g", v[i]);
  std::printf("]\n");
}
}  // namespace

int main(int argc, char** argv) {
  std::string server = argc > 1 ? argv[1] : "127.0.0.1:7447";
  td::remote::Client client(server);
  td::remote::Session session = client.create_session("remote-demo");
  std::cout << "session " << session.id() << " on " << session.device() << " at " << server << "\n";

  // x @ w, then sum: both ops ride in one batch with the uploads; nothing has waited yet.
  Tensor x = session.tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor w = session.tensor<float>({0.5f, -1, 2, 0, 1, 1}, {3, 2}, /*requires_grad=*/true);
  Tensor y = x.matmul(w);
  y.register_hook([](const Tensor& g) -> std::optional<Tensor> {
    // Runs on this client while the server is inside backward; it may issue ops and read values.
    std::cout << "hook: grad of y has mean " << g.mean().item<double>() << "; replacing it with 2 * grad\n";
    return g + g;
  });
  Tensor loss = y.sum();
  std::cout << "loss = " << loss.item<double>() << "\n";
  loss.backward();
  // d(sum(x @ w))/dw = x^T @ ones(2, 2), doubled by the hook: column sums of x times 2, twice.
  print("w.grad", w.grad().to_vector<float>());

  // A bad op: the error names the op and both shapes, and the session carries on.
  Tensor bad = x.matmul(x);
  try {
    session.sync();
  } catch (const td::Error& e) {
    std::cout << "error (" << td::error_code_name(e.code()) << "): " << e.what() << "\n";
  }
  print("after the error, x + x", (x + x).to_vector<float>());
  session.close();
  return 0;
}
