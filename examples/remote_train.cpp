// The demo of scripts/demo.sh: the users' reference CNN trained on Fashion-MNIST from a thin client. The
// client reads the dataset (Debian's dataset-fashion-mnist) and uploads batches; the server holds the
// layers, the autograd graph and the SGD optimizer; the gradient alarm runs here as a blocking remote hook
// on each conv output during the server's backward. A progress bar, then test accuracy.
//
//   remote_train [SERVER] [--steps N (default 300; 0 = a whole epoch)] [--epochs E] [--device cpu|cuda:0]
#include <chrono>
#include <cstdio>
#include <string>

#include "client/remote.h"
#include "client/remote_nn.h"
#include "core/data/dataloader.h"
#include "core/random/generator.h"
#include "examples/remote_cnn.h"
#include "vision/datasets.h"
#include "vision/transforms.h"

namespace {

td::remote::Tensor upload(td::remote::Session& s, const td::Tensor& t) {
  td::Tensor c = t.contiguous();
  return s.from_bytes(c.data_ptr(), static_cast<size_t>(c.nbytes()), c.dtype(), c.shape(), false);
}


}  // namespace

int main(int argc, char** argv) {
  std::string server = "127.0.0.1:7447", device;
  int64_t steps = 300;
  int epochs = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--steps" && i + 1 < argc) steps = std::stoll(argv[++i]);
    else if (a == "--epochs" && i + 1 < argc) epochs = std::stoi(argv[++i]);
    else if (a == "--device" && i + 1 < argc) device = argv[++i];
    else server = a;
  }
  try {
    namespace T = td::vision::transforms;
    auto transform = std::make_shared<T::Compose>(std::vector<std::shared_ptr<T::Transform>>{
        std::make_shared<T::ToTensor>(), std::make_shared<T::Normalize>(std::vector<double>{0.2860},
                                                                        std::vector<double>{0.3530})});
    const std::string root = "/usr/share/datasets/fashion-mnist";
    auto train_set = std::make_shared<td::vision::datasets::FashionMNIST>(root, true, transform);
    auto test_set = std::make_shared<td::vision::datasets::FashionMNIST>(root, false, transform);
    td::random::Generator shuffle(0);
    td::data::DataLoader train_loader(train_set, {.batch_size = 64, .shuffle = true, .num_workers = 1,
                                                  .generator = &shuffle});
    td::data::DataLoader test_loader(test_set, {.batch_size = 1000, .num_workers = 1});

    td::remote::Client client(server);
    td::remote::Session s = client.create_session("remote-train", device);
    std::printf("session %s on %s at %s\n", s.id().c_str(), s.device().c_str(), server.c_str());
    td::examples::RemoteCNN model(s, 10, 1, 28, 28);
    std::printf("%s\n", model.repr().c_str());
    auto loss_fn = td::remote::nn::layer(s, "CrossEntropyLoss");
    td::remote::optim::Optimizer opt(s, "SGD", model.parameters(), {{"lr", td::Scalar(0.05)}, {"momentum", td::Scalar(0.9)}});

    const int64_t per_epoch = steps > 0 ? std::min<int64_t>(steps, train_loader.size()) : train_loader.size();
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      const auto t0 = std::chrono::steady_clock::now();
      int64_t step = 0;
      td::remote::ProgressBar bar(per_epoch, "epoch " + std::to_string(epoch));
      for (const td::data::Sample& batch : train_loader) {
        if (step == per_epoch) break;
        opt.zero_grad();
        td::remote::Tensor loss = loss_fn->call({model(upload(s, batch[0])), upload(s, batch[1])})[0];
        loss.backward();  // waits for the server; the alarm hooks run here meanwhile
        opt.step();
        ++step;
        if (step % 20 == 0 || step == per_epoch) bar.update(step, loss.item<double>());  // item(): a sync point
      }
      bar.finish();
      model.alarm = false;
      model.eval();
      int64_t correct = 0, seen = 0;
      for (const td::data::Sample& batch : test_loader) {
        td::remote::Tensor logits = model(upload(s, batch[0]));
        correct += logits.argmax(1).eq(upload(s, batch[1])).sum().item<int64_t>();
        seen += batch[1].size(0);
      }
      model.train();
      model.alarm = true;
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("epoch %d: %lld steps, test accuracy %.2f%%, %.1f s, %lld gradient checks by the remote alarm\n",
                  epoch, static_cast<long long>(step), 100.0 * static_cast<double>(correct) / static_cast<double>(seen),
                  seconds, static_cast<long long>(model.checks));
    }
    s.close();
  } catch (const td::Error& e) {
    std::fprintf(stderr, "remote_train: %s\n", e.what());
    return 1;
  }
  return 0;
}
