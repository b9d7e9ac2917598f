// Trains the users' reference CNN (examples/reference_cnn.h, from ../shared/seed-notes.txt) on Fashion-MNIST
// in-process, PyTorch's recipe: batch 64, SGD lr 0.05 momentum 0.9, cross-entropy, ToTensor + Normalize. The
// gradient alarm hooks sit on both conv outputs; a progress bar runs per epoch and a summary follows it.
// examples/train_fashion_mnist.py runs the same recipe in PyTorch for comparison.
//
//   train_fashion_mnist [--root DIR] [--epochs 2] [--batch-size 64] [--lr 0.05] [--momentum 0.9]
//                       [--threads 2] [--workers 1] [--seed 0] [--limit BATCHES]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/autograd/grad_mode.h"
#include "core/progress_bar.h"
#include "core/data/dataloader.h"
#include "core/error.h"
#include "core/nn/functional.h"
#include "core/optim/optimizers.h"
#include "core/random/generator.h"
#include "core/threads.h"
#include "examples/reference_cnn.h"
#include "vision/datasets.h"
#include "vision/transforms.h"

namespace {

struct Options {
  std::string root = "/usr/share/datasets/fashion-mnist";
  int epochs = 2;
  int64_t batch_size = 64;
  double lr = 0.05, momentum = 0.9;
  int threads = 2, workers = 1;
  uint64_t seed = 0;
  int64_t limit = -1;  // train batches per epoch; all when negative
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--root") o.root = value();
    else if (a == "--epochs") o.epochs = std::stoi(value());
    else if (a == "--batch-size") o.batch_size = std::stoll(value());
    else if (a == "--lr") o.lr = std::stod(value());
    else if (a == "--momentum") o.momentum = std::stod(value());
    else if (a == "--threads") o.threads = std::stoi(value());
    else if (a == "--workers") o.workers = std::stoi(value());
    else if (a == "--seed") o.seed = std::stoull(value());
    else if (a == "--limit") o.limit = std::stoll(value());
    else {
      std::fprintf(stderr, "unknown argument %s (see the comment at the top of train_fashion_mnist.cpp)\n", a.c_str());
      std::exit(2);
    }
  }
  return o;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}


struct Score {
  double loss = 0, accuracy = 0;
};

Score evaluate(td::examples::CNN& model, td::data::DataLoader& loader) {
  td::autograd::NoGradGuard no_grad;
  model.eval();
  double loss_sum = 0;
  int64_t correct = 0, seen = 0;
  for (const td::data::Sample& batch : loader) {
    td::Tensor logits = model(batch[0]);
    loss_sum += td::nn::functional::cross_entropy(logits, batch[1], {}, -100, "sum").item<double>();
    correct += logits.argmax(1).eq(batch[1]).sum().item<int64_t>();
    seen += batch[1].size(0);
  }
  model.train();
  return {loss_sum / static_cast<double>(seen), 100.0 * static_cast<double>(correct) / static_cast<double>(seen)};
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    td::set_num_threads(o.threads);
    td::manual_seed(o.seed);
    namespace T = td::vision::transforms;
    // Fashion-MNIST's pixel mean and standard deviation over the training set.
    auto transform = std::make_shared<T::Compose>(std::vector<std::shared_ptr<T::Transform>>{
        std::make_shared<T::ToTensor>(), std::make_shared<T::Normalize>(std::vector<double>{0.2860},
                                                                        std::vector<double>{0.3530})});
    auto train_set = std::make_shared<td::vision::datasets::FashionMNIST>(o.root, true, transform);
    auto test_set = std::make_shared<td::vision::datasets::FashionMNIST>(o.root, false, transform);
    td::random::Generator shuffle(o.seed);
    td::data::DataLoader train_loader(train_set, {.batch_size = o.batch_size, .shuffle = true,
                                                  .num_workers = o.workers, .generator = &shuffle});
    td::data::DataLoader test_loader(test_set, {.batch_size = 1000, .num_workers = o.workers});

    auto model = std::make_shared<td::examples::CNN>(10, 1, 28, 28);
    model->alarm = std::make_shared<td::examples::GradientAlarm>();
    std::printf("%s\n", model->repr().c_str());
    std::printf("%s\n", train_set->repr().c_str());
    td::optim::SGD optimizer(model->parameters(), {.lr = o.lr, .momentum = o.momentum});

    const int64_t steps = o.limit >= 0 ? std::min<int64_t>(o.limit, train_loader.size()) : train_loader.size();
    for (int epoch = 1; epoch <= o.epochs; ++epoch) {
      const auto t0 = std::chrono::steady_clock::now();
      double loss_sum = 0;
      td::ProgressBar bar(steps, "epoch " + std::to_string(epoch));
      int64_t step = 0, correct = 0, seen = 0;
      for (const td::data::Sample& batch : train_loader) {
        if (step == steps) break;
        optimizer.zero_grad();
        td::Tensor logits = (*model)(batch[0]);
        td::Tensor loss = td::nn::functional::cross_entropy(logits, batch[1]);
        loss.backward();
        optimizer.step();
        const double l = loss.item<double>();
        loss_sum += l * static_cast<double>(batch[1].size(0));
        correct += logits.detach().argmax(1).eq(batch[1]).sum().item<int64_t>();
        seen += batch[1].size(0);
        ++step;
        if (step % 20 == 0 || step == steps) bar.update(step, l);
      }
      const double train_time = seconds_since(t0);
      bar.finish();
      const Score test = evaluate(*model, test_loader);
      std::printf("epoch %d: train loss %.4f, train accuracy %.2f%%, test loss %.4f, test accuracy %.2f%%, "
                  "%.1f s (%.1f ms/step), gradient alarms %lld\n",
                  epoch, loss_sum / static_cast<double>(seen), 100.0 * static_cast<double>(correct) / static_cast<double>(seen),
                  test.loss, test.accuracy, train_time, 1000 * train_time / static_cast<double>(std::max<int64_t>(step, 1)),
                  static_cast<long long>(model->alarm->alarms));
      std::fflush(stdout);
    }
  } catch (const td::Error& e) {
    std::fprintf(stderr, "train_fashion_mnist: %s\n", e.what());
    return 1;
  }
  return 0;
}
