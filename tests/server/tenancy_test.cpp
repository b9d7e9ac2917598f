// A shared server (issue 7): users and bearer tokens from a tokens file, sessions only their owner reaches,
// admins, quotas with RESOURCE_EXHAUSTED and recovery, revocation, TLS, and the refusal to serve a network
// address without authentication. Against a real tensord on loopback, through td::remote and raw stubs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "client/remote.h"
#include "client/remote_nn.h"
#include "core/tensor_impl.h"
#include "server/auth.h"
#include "server/server.h"
#include "server/sessions.h"
#include "tensord/v1/tensord.grpc.pb.h"
#include "tests/core/test_util.h"
#include "tests/server/server_test_util.h"

namespace td {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using remote::Tensor;
namespace pb = ::tensord::v1;

using testing::CaptureSink;
using testing::TempDir;
using testing::write_file;

// alice has quotas, bob has none, root is an admin.
std::string tokens_json(bool with_bob = true) {
  std::string bob = with_bob ? R"({"name": "bob", "tokens": [")" + server::token_hash("bob-token") + R"("]},)" : "";
  return R"({"users": [
    {"name": "alice", "tokens": [")" + server::token_hash("alice-token") + R"(", ")" +
         server::token_hash("alice-second-token") + R"("],
     "quota": {"sessions": 2, "device_bytes": "64K", "handles": 20}},
    )" + bob + R"(
    {"name": "root", "admin": true, "tokens": [")" + server::token_hash("root-token") + R"("]}
  ]})";
}

class TenancyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tokens_ = dir_.path / "tokens.json";
    write_file(tokens_, tokens_json());
    server::Options options = testing::loopback_server_options();
    options.tokens_file = tokens_.string();
    server_ = std::make_unique<server::Server>(options);
    target_ = "127.0.0.1:" + std::to_string(server_->port());
  }
  std::unique_ptr<remote::Client> client(const std::string& token) {
    remote::ClientOptions o;
    o.token = token;
    return std::make_unique<remote::Client>(target_, o);
  }
  // A raw stub call with the given authorization metadata.
  template <class Call>
  grpc::Status raw(const std::string& authorization, Call&& call) {
    auto stub = pb::Tensord::NewStub(grpc::CreateChannel(target_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
    return call(*stub, ctx);
  }
  pb::ListSessionsResponse list(const std::string& token) {
    pb::ListSessionsResponse out;
    grpc::Status s = raw("Bearer " + token, [&](auto& stub, auto& ctx) {
      return stub.ListSessions(&ctx, pb::ListSessionsRequest(), &out);
    });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }
  grpc::Status close(const std::string& token, const std::string& id) {
    pb::CloseSessionRequest req;
    req.set_id(id);
    pb::CloseSessionResponse resp;
    return raw("Bearer " + token, [&](auto& stub, auto& ctx) { return stub.CloseSession(&ctx, req, &resp); });
  }
  grpc::Status attach(const std::string& token, const std::string& id) {
    auto stub = pb::Tensord::NewStub(grpc::CreateChannel(target_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    auto stream = stub->Attach(&ctx);
    pb::ClientMessage m;
    m.mutable_attach()->set_session_id(id);
    stream->Write(m);
    stream->WritesDone();
    pb::ServerMessage reply;
    while (stream->Read(&reply)) {
    }
    return stream->Finish();
  }

  TempDir dir_;
  fs::path tokens_;
  std::unique_ptr<server::Server> server_;
  std::string target_;
};

TEST(TokensFile, RefusesWhatItCannotTrustNamingTheProblem) {
  TempDir dir;
  const fs::path path = dir.path / "t.json";
  auto error_for = [&](const std::string& text) {
    write_file(path, text);
    return testing::error_of([&] { server::Authenticator a(path.string()); });
  };
  const std::string h = server::token_hash("x");
  EXPECT_THAT(error_for(R"({"users": [{"name": "a", "tokens": ["plain-token"]}]})").what(),
              HasSubstr("user 'a': a token must be stored hashed"));
  EXPECT_THAT(error_for(R"({"users": [{"name": "a", "tokens": [")" + h + R"("], "quota": {"gpus": 1}}]})").what(),
              HasSubstr("unknown quota \"gpus\""));
  EXPECT_THAT(error_for(R"({"users": [{"name": "a", "tokens": [")" + h + R"("], "quota": {"device_bytes": "lots"}}]})")
                  .what(),
              HasSubstr("quota \"device_bytes\" must be a non-negative integer or a size like \"8G\""));
  EXPECT_THAT(error_for(R"({"users": [{"name": "a", "tokens": []}, {"name": "a", "tokens": []}]})").what(),
              HasSubstr("names must be unique"));
  EXPECT_THAT(error_for(R"({"users": [{"name": "a", "tokens": [")" + h + R"("]}, {"name": "b", "tokens": [")" + h +
                        R"("]}]})")
                  .what(),
              HasSubstr("a token hash appears twice"));
  EXPECT_THAT(error_for("not json").what(), HasSubstr("is not JSON"));
  EXPECT_EQ(error_for("{}").code(), ErrorCode::kInvalidArgument);
  write_file(path, R"({"users": [{"name": "a", "admin": true, "tokens": [")" + h +
                       R"("], "quota": {"device_bytes": "1.5G", "sessions": 3}}]})");
  server::Authenticator a(path.string());
  const auto caller = a.authenticate("Bearer x");
  EXPECT_EQ(caller.user->name, "a");
  EXPECT_TRUE(caller.user->admin);
  EXPECT_EQ(caller.user->quota.device_bytes, int64_t{3} << 29);
  EXPECT_EQ(caller.user->quota.sessions, 3);
  EXPECT_EQ(server::token_hash("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(TenancyTest, MissingWrongAndMalformedTokensAreUnauthenticated) {
  pb::ServerInfo info;
  auto get_info = [&](auto& stub, auto& ctx) { return stub.GetInfo(&ctx, pb::GetInfoRequest(), &info); };
  grpc::Status none = raw("", get_info);
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(none.error_message(), HasSubstr("no credentials"));
  EXPECT_EQ(raw("Bearer wrong", get_info).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status basic = raw("Basic YWxpY2U6eA==", get_info);
  EXPECT_EQ(basic.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(basic.error_message(), HasSubstr("malformed"));
  EXPECT_TRUE(raw("Bearer alice-second-token", get_info).ok());
  Error e = testing::error_of([&] { client("nope")->create_session("x", "cpu"); });
  EXPECT_EQ(e.code(), ErrorCode::kUnauthenticated);
  EXPECT_THAT(e.what(), HasSubstr("unknown or revoked token"));
}

TEST_F(TenancyTest, UsersReachOnlyTheirOwnSessionsAndAdminsCloseAny) {
  auto alice = client("alice-token");
  remote::Session s = alice->create_session("alice's", "cpu");
  Tensor t = s.tensor<float>({1, 2, 3}, {3});
  s.sync();
  auto bob = client("bob-token");
  remote::Session b = bob->create_session("bob's", "cpu");
  // Bob neither sees, attaches to nor closes Alice's session: to him its id names nothing.
  EXPECT_EQ(list("bob-token").sessions_size(), 1);
  EXPECT_EQ(list("bob-token").sessions(0).user(), "bob");
  grpc::Status attached = attach("bob-token", s.id());
  EXPECT_EQ(attached.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(attached.error_message(), HasSubstr("no session with id"));
  EXPECT_EQ(close("bob-token", s.id()).error_code(), grpc::StatusCode::NOT_FOUND);
  // The admin sees both, with their owners, cannot attach to Alice's, but may close it.
  auto all = list("root-token");
  ASSERT_EQ(all.sessions_size(), 2);
  EXPECT_EQ(attach("root-token", s.id()).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_FLOAT_EQ(t.sum().item<float>(), 6.0f);  // still Alice's, untouched
  EXPECT_TRUE(close("root-token", s.id()).ok());
  EXPECT_EQ(list("alice-token").sessions_size(), 0);
  EXPECT_EQ(testing::error_of([&] { (void)t.sum().item<float>(); }).code(), ErrorCode::kUnavailable);
  EXPECT_FLOAT_EQ(b.tensor<float>({4}, {1}).item<float>(), 4.0f);  // Bob's session goes on
  // ListUsers: Bob sees himself; the admin sees everyone.
  pb::ListUsersResponse users;
  ASSERT_TRUE(raw("Bearer bob-token", [&](auto& stub, auto& ctx) {
                return stub.ListUsers(&ctx, pb::ListUsersRequest(), &users);
              }).ok());
  ASSERT_EQ(users.users_size(), 1);
  EXPECT_EQ(users.users(0).name(), "bob");
  EXPECT_EQ(users.users(0).sessions(), 1);
  users.Clear();
  ASSERT_TRUE(raw("Bearer root-token", [&](auto& stub, auto& ctx) {
                return stub.ListUsers(&ctx, pb::ListUsersRequest(), &users);
              }).ok());
  ASSERT_EQ(users.users_size(), 3);
  EXPECT_EQ(users.users(0).name(), "alice");
  EXPECT_EQ(users.users(0).quota().sessions(), 2);
  EXPECT_EQ(users.users(0).quota().device_bytes(), 64 << 10);
}

// A WatchEvents call (tensorctl events) collecting what it hears on a thread of its own.
class EventWatch {
 public:
  EventWatch(const std::string& target, const std::string& token, const std::string& session_id = "")
      : stub_(pb::Tensord::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))) {
    ctx_.AddMetadata("authorization", "Bearer " + token);
    pb::WatchEventsRequest req;
    req.set_session_id(session_id);
    reader_ = stub_->WatchEvents(&ctx_, req);
    reader_->WaitForInitialMetadata();  // the watch is in place (or the call failed)
    thread_ = std::thread([this] {
      pb::WatchedEvent ev;
      while (reader_->Read(&ev)) {
        std::lock_guard lock(mu_);
        events_.push_back(ev);
        cv_.notify_all();
      }
      std::lock_guard lock(mu_);
      status_ = reader_->Finish();
      ended_ = true;
      cv_.notify_all();
    });
  }
  ~EventWatch() {
    ctx_.TryCancel();
    thread_.join();
  }
  /// Waits until n events arrived (or the call ended, or 10 s passed) and returns those so far.
  std::vector<pb::WatchedEvent> wait_for(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return events_.size() >= n || ended_; });
    return events_;
  }
  grpc::Status finish() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return ended_; });
    return status_;
  }

 private:
  std::unique_ptr<pb::Tensord::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<pb::WatchedEvent>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<pb::WatchedEvent> events_;
  grpc::Status status_;
  bool ended_ = false;
};

TEST_F(TenancyTest, EventWatchersSeeTheirOwnSessionsErrorsAndHooksAndAdminsSeeAll) {
  EventWatch alice_watch(target_, "alice-token");
  EventWatch root_watch(target_, "root-token");
  auto alice = client("alice-token");
  remote::Session s = alice->create_session("alice's", "cpu");
  auto bob = client("bob-token");
  remote::Session b = bob->create_session("bob's", "cpu");
  // Bob's failing op: only the admin hears of it.
  Tensor bad = b.tensor<float>({1, 2}, {2}).matmul(b.tensor<float>({1, 2, 3}, {3}));
  EXPECT_EQ(testing::error_of([&] { b.sync(); }).code(), ErrorCode::kInvalidArgument);
  // Alice's: a gradient statistics hook and a client hook fire, then an op fails.
  Tensor w = s.tensor<float>({1, -2}, {2}).requires_grad_(true);
  auto stats = w.register_grad_stats_hook([](const remote::GradStats&) {});
  auto hook = w.register_hook([](const Tensor&) -> std::optional<Tensor> { return std::nullopt; }, false);
  w.mul(3.0).sum().backward();
  Tensor worse = s.tensor<float>({1}, {1}).reshape({2});
  EXPECT_EQ(testing::error_of([&] { s.sync(); }).code(), ErrorCode::kInvalidArgument);

  const auto mine = alice_watch.wait_for(3);
  ASSERT_EQ(mine.size(), 3u);
  std::multiset<int> kinds;
  for (const auto& ev : mine) {
    EXPECT_EQ(ev.user(), "alice");
    EXPECT_EQ(ev.session_id(), s.id());
    EXPECT_GT(ev.time_unix_nanos(), 0);
    kinds.insert(ev.event().kind_case());
  }
  EXPECT_EQ(kinds, (std::multiset<int>{pb::ServerMessage::kGradStats, pb::ServerMessage::kHook, pb::ServerMessage::kError}));
  EXPECT_THAT(mine.back().event().error().message(), HasSubstr("reshape"));
  const auto all = root_watch.wait_for(4);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all.front().user(), "bob");
  EXPECT_THAT(all.front().event().error().message(), HasSubstr("matmul"));

  // One session's events; another user's session is NOT_FOUND, as everywhere.
  EventWatch bob_on_alice(target_, "bob-token", s.id());
  EXPECT_EQ(bob_on_alice.finish().error_code(), grpc::StatusCode::NOT_FOUND);
  EventWatch root_on_bob(target_, "root-token", b.id());
  Tensor again = b.tensor<float>({1}, {1}).reshape({3});
  EXPECT_EQ(testing::error_of([&] { b.sync(); }).code(), ErrorCode::kInvalidArgument);
  const auto bobs = root_on_bob.wait_for(1);
  ASSERT_EQ(bobs.size(), 1u);
  EXPECT_EQ(bobs[0].session_id(), b.id());
  // A shutdown ends every watch with OK.
  server_->shutdown();
  EXPECT_TRUE(alice_watch.finish().ok());
}

TEST_F(TenancyTest, QuotasRefuseWithResourceExhaustedAndRecover) {
  auto alice = client("alice-token");
  // Sessions: two at most.
  auto s1 = std::make_unique<remote::Session>(alice->create_session("one", "cpu"));
  remote::Session s2 = alice->create_session("two", "cpu");
  Error third = testing::error_of([&] { alice->create_session("three", "cpu"); });
  EXPECT_EQ(third.code(), ErrorCode::kResourceExhausted);
  EXPECT_THAT(third.what(), HasSubstr("session quota of user 'alice': 2 sessions open"));
  s1.reset();  // closes it
  remote::Session s3 = alice->create_session("three", "cpu");
  // Device bytes: 64 KiB over all her sessions.
  Tensor big = s2.tensor<float>(std::vector<float>(10000, 1.0f), {10000});  // 40000 bytes
  s2.sync();
  Tensor other = s3.tensor<float>(std::vector<float>(10000, 2.0f), {10000});
  Error over = testing::error_of([&] { s3.sync(); });
  EXPECT_EQ(over.code(), ErrorCode::kResourceExhausted);
  EXPECT_THAT(over.what(), HasSubstr("[put] memory quota of user 'alice': allocating 40000 bytes on cpu would hold "
                                     "80000 bytes there, over the limit of 65536 bytes"));
  big = Tensor();  // released: room again
  s2.sync();
  Tensor again = s3.tensor<float>(std::vector<float>(10000, 2.0f), {10000});
  EXPECT_FLOAT_EQ(again.sum().item<float>(), 20000.0f);
  // Handles: 20 at most over her sessions (a few are held already).
  std::vector<Tensor> many;
  std::optional<Error> handles;
  for (int i = 0; i < 25 && !handles; ++i) {
    many.push_back(s2.tensor<float>({1}, {1}));
    try {
      s2.sync();
    } catch (const Error& e) {
      handles = e;
    }
  }
  ASSERT_TRUE(handles.has_value());
  EXPECT_EQ(handles->code(), ErrorCode::kResourceExhausted);
  EXPECT_THAT(handles->what(), HasSubstr("handle quota of user 'alice'"));
  many.clear();
  s2.sync();
  EXPECT_FLOAT_EQ(s2.tensor<float>({5}, {1}).item<float>(), 5.0f);
  // Bob has no quotas at all.
  remote::Session b = client("bob-token")->create_session("b", "cpu");
  EXPECT_FLOAT_EQ(b.tensor<float>(std::vector<float>(100000, 1.0f), {100000}).sum().item<float>(), 100000.0f);
}

TEST_F(TenancyTest, RevokingATokenRefusesItsCallsAndEndsItsStream) {
  auto bob = client("bob-token");
  remote::Session s = bob->create_session("b", "cpu");
  Tensor t = s.tensor<float>({1}, {1});
  s.sync();
  write_file(tokens_, tokens_json(/*with_bob=*/false));
  server_->reload_tokens();
  Error e = testing::error_of([&] { client("bob-token")->create_session("again", "cpu"); });
  EXPECT_EQ(e.code(), ErrorCode::kUnauthenticated);
  // The stream he attached with that token is cut: his next sync point fails.
  EXPECT_EQ(testing::error_of([&] { (void)t.neg().item<float>(); }).code(), ErrorCode::kUnavailable);
  // A bad file keeps the users that were.
  write_file(tokens_, "{broken");
  EXPECT_EQ(testing::error_of([&] { server_->reload_tokens(); }).code(), ErrorCode::kInvalidArgument);
  EXPECT_NO_THROW(client("alice-token")->create_session("still", "cpu"));
}

// Every command kind of one session, naming ids that another session uses: each fails in its own session
// or acts on its own table, and the other session's state is untouched. Handles, modules, optimizers,
// hooks and profilers are per session, so no id can reach across.
TEST(SessionIsolation, NoCommandReachesAnotherSessionsState) {
  boost::asio::thread_pool pool(1);
  server::SessionOptions a_opts, b_opts;
  a_opts.user = "alice";
  b_opts.user = "bob";
  auto a = std::make_shared<server::Session>("a", a_opts, pool, nullptr);
  auto b = std::make_shared<server::Session>("b", b_opts, pool, nullptr);
  CaptureSink a_sink, b_sink;
  a->attach(&a_sink);
  b->attach(&b_sink);
  // Alice: tensor 1, a Linear as module 2, an SGD as optimizer 3, a hook 4 on tensor 1.
  pb::CommandBatch setup;
  auto add = [](pb::CommandBatch& batch, uint64_t seq) {
    pb::Command* c = batch.add_commands();
    c->set_seq(seq);
    return c;
  };
  {
    auto* put = add(setup, 1)->mutable_put();
    put->set_handle(1);
    put->set_dtype(pb::DTYPE_FLOAT32);
    put->add_shape(2);
    const float values[] = {1, 2};
    put->set_data(values, sizeof values);
    put->set_requires_grad(true);
    put->set_last(true);
    auto* m = add(setup, 2)->mutable_create_module();
    m->set_module(2);
    m->set_type("Linear");
    m->add_args()->set_int_value(2);
    m->add_args()->set_int_value(1);
    auto* w = add(setup, 3)->mutable_module_tensor();
    w->set_module(2);
    w->set_name("weight");
    w->set_output(5);
    auto* o = add(setup, 4)->mutable_create_optimizer();
    o->set_optimizer(3);
    o->set_type("SGD");
    o->add_groups()->add_params(5);
    auto* lr = o->add_defaults();
    lr->set_name("lr");
    lr->mutable_value()->set_float_value(0.1);
    auto* h = add(setup, 5)->mutable_register_hook();
    h->set_hook_id(4);
    h->set_tensor(1);
    h->set_mode(pb::HOOK_MODE_OBSERVE);
  }
  a->run_inline(setup);
  for (const auto& e : a_sink.events) EXPECT_FALSE(e.has_error()) << e.error().message();
  // Bob names the same ids with every command kind.
  pb::CommandBatch probe;
  uint64_t seq = 1;
  auto* op = add(probe, seq++)->mutable_op();
  op->set_op("neg");
  op->add_args()->set_tensor(1);
  op->add_outputs(10);
  add(probe, seq++)->mutable_fetch()->set_handle(1);
  add(probe, seq++)->mutable_backward()->set_tensor(1);
  add(probe, seq++)->mutable_register_hook()->set_tensor(1);
  auto* g = add(probe, seq++)->mutable_grad();
  g->set_tensor(1);
  g->set_output(11);
  auto* call = add(probe, seq++)->mutable_call_module();
  call->set_module(2);
  call->add_inputs(1);
  call->add_outputs(12);
  auto* mt = add(probe, seq++)->mutable_module_tensor();
  mt->set_module(2);
  mt->set_name("weight");
  mt->set_output(13);
  add(probe, seq++)->mutable_module_train()->set_module(2);
  add(probe, seq++)->mutable_describe_module()->set_module(2);
  add(probe, seq++)->mutable_load_state_dict()->set_module(2);
  add(probe, seq++)->mutable_optimizer_step()->set_optimizer(3);
  add(probe, seq++)->mutable_zero_grad()->set_optimizer(3);
  add(probe, seq++)->mutable_describe_optimizer()->set_optimizer(3);
  auto* sch = add(probe, seq++)->mutable_create_scheduler();
  sch->set_scheduler(6);
  sch->set_optimizer(3);
  sch->set_type("StepLR");
  auto* step_size = sch->add_kwargs();
  step_size->set_name("step_size");
  step_size->mutable_value()->set_int_value(1);
  auto* mh = add(probe, seq++)->mutable_register_module_hook();
  mh->set_hook_id(7);
  mh->set_module(2);
  auto* prof = add(probe, seq++)->mutable_profiler();
  prof->set_action(pb::ProfilerCommand::PROFILER_STEP);
  prof->set_profiler(1);
  add(probe, seq++)->mutable_remove_hook()->set_hook_id(4);  // unknown here: a no-op in Bob's session
  add(probe, seq++)->mutable_release_module()->set_module(2);
  add(probe, seq++)->mutable_release_optimizer()->set_optimizer(3);
  add(probe, seq++)->mutable_release()->add_handles(1);
  const uint64_t failing = seq - 4;  // the last four act only on Bob's own (empty) tables
  b->run_inline(probe);
  std::set<uint64_t> failed;
  for (const auto& e : b_sink.events) {
    if (!e.has_error()) continue;
    failed.insert(e.error().seq());
    const auto code = static_cast<ErrorCode>(e.error().code());
    EXPECT_TRUE(code == ErrorCode::kNotFound || code == ErrorCode::kFailedPrecondition) << e.error().message();
  }
  for (uint64_t s = 1; s < failing; ++s) EXPECT_TRUE(failed.contains(s)) << "command " << s << " did not fail";
  // Alice's state is whole: her tensor, module, optimizer and hook all work.
  pb::CommandBatch check;
  auto* f = add(check, 10)->mutable_fetch();
  f->set_handle(1);
  f->set_request_id(1);
  auto* c2 = add(check, 11)->mutable_call_module();
  c2->set_module(2);
  c2->add_inputs(1);
  c2->add_outputs(20);
  auto* bw = add(check, 12)->mutable_backward();
  bw->set_tensor(20);
  add(check, 13)->mutable_optimizer_step()->set_optimizer(3);
  a_sink.events.clear();
  a->run_inline(check);
  int hooks = 0;
  for (const auto& e : a_sink.events) {
    EXPECT_FALSE(e.has_error()) << e.error().message();
    hooks += e.has_hook();
  }
  EXPECT_EQ(hooks, 1);  // Bob's remove_hook did not remove Alice's hook 4
  a->close();
  b->close();
  pool.join();
}

// TLS with a test CA made here by the openssl tool: a client that trusts the CA connects; plaintext and a
// client trusting another CA do not.
TEST(Tls, ServesOverTlsToClientsThatTrustItsCa) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl tool";
  TempDir dir;
  const std::string d = dir.path.string();
  const std::string make =
      "cd " + d +
      " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=tensord-test-ca "
      "2>/dev/null"
      " && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null"
      " && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext"
      " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
      "-extfile san.ext 2>/dev/null"
      " && openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 -subj /CN=other-ca "
      "2>/dev/null";
  ASSERT_EQ(std::system(make.c_str()), 0) << "openssl could not make the test certificates";
  write_file(dir.path / "tokens.json",
             R"({"users": [{"name": "carol", "tokens": [")" + server::token_hash("carol-token") + R"("]}]})");
  server::Options options = testing::loopback_server_options();
  options.tokens_file = d + "/tokens.json";
  options.tls_cert = d + "/server.pem";
  options.tls_key = d + "/server.key";
  server::Server server(options);
  const std::string target = "127.0.0.1:" + std::to_string(server.port());
  auto read = [&](const std::string& name) {
    std::ifstream in(dir.path / name);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  remote::ClientOptions trusted;
  trusted.token = "carol-token";
  trusted.tls = true;
  trusted.tls_root_certs = read("ca.pem");
  remote::Client good(target, trusted);
  remote::Session s = good.create_session("over tls", "cpu");
  EXPECT_FLOAT_EQ(s.tensor<float>({2, 3}, {2}).sum().item<float>(), 5.0f);
  remote::ClientOptions plain;
  plain.token = "carol-token";
  EXPECT_EQ(testing::error_of([&] { remote::Client(target, plain).create_session("x", "cpu"); }).code(),
            ErrorCode::kUnavailable);
  remote::ClientOptions wrong_ca = trusted;
  wrong_ca.tls_root_certs = read("other.pem");
  EXPECT_EQ(testing::error_of([&] { remote::Client(target, wrong_ca).create_session("x", "cpu"); }).code(),
            ErrorCode::kUnavailable);
}

TEST(NetworkAddress, NeedsATokensFileAndTlsOrAnExplicitPlaintext) {
  TempDir dir;
  server::Options options;
  options.listen = "0.0.0.0:0";
  options.metrics_listen = "";
  Error no_auth = testing::error_of([&] { server::Server s(options); });
  EXPECT_EQ(no_auth.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(no_auth.what(), HasSubstr("without authentication: give a tokens file"));
  write_file(dir.path / "tokens.json", R"({"users": []})");
  options.tokens_file = (dir.path / "tokens.json").string();
  EXPECT_THAT(testing::error_of([&] { server::Server s(options); }).what(), HasSubstr("without TLS"));
  options.allow_plaintext = true;
  server::Server s(options);  // explicitly asked for
  EXPECT_GT(s.port(), 0);
}

// The ops-in-flight quota: while the executor is busy, commands past the quota are refused on arrival and
// fail in their turn with RESOURCE_EXHAUSTED; once the queue drains, the user sends again.
TEST(OpsInFlight, CommandsPastTheQuotaAreRefusedAndTheQuotaRecovers) {
  boost::asio::thread_pool pool(1);
  server::SessionOptions options;
  options.user = "dave";
  options.usage = std::make_shared<server::UserUsage>("dave");
  options.usage->ops_in_flight_quota = 3;
  auto s = std::make_shared<server::Session>("d", options, pool, nullptr);
  CaptureSink sink;
  s->attach(&sink);
  std::promise<void> release;
  boost::asio::post(pool, [f = release.get_future()]() mutable { f.wait(); });  // the executor is busy
  auto batch = [](uint64_t first, int n) {
    pb::CommandBatch b;
    for (int i = 0; i < n; ++i) {
      auto* c = b.add_commands();
      c->set_seq(first + static_cast<uint64_t>(i));
      auto* op = c->mutable_op();
      op->set_op("zeros");
      op->add_args()->mutable_int_list()->add_values(1);
      op->add_outputs(first + static_cast<uint64_t>(i));
    }
    return b;
  };
  auto wait_for = [&](auto&& done) {
    for (int i = 0; i < 2000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return done();
  };
  s->enqueue(batch(1, 2));  // 2 waiting
  s->enqueue(batch(3, 2));  // 4 > 3: refused
  EXPECT_EQ(options.usage->queued.load(), 2);
  release.set_value();
  ASSERT_TRUE(wait_for([&] { return s->handle_count() == 4u; }));  // two results, two poisoned handles
  std::vector<uint64_t> refused;
  {
    std::lock_guard lock(sink.mu);
    for (const auto& e : sink.events) {
      if (!e.has_error()) continue;
      EXPECT_EQ(e.error().code(), static_cast<int>(ErrorCode::kResourceExhausted));
      EXPECT_THAT(e.error().message(), HasSubstr("[zeros] ops-in-flight quota of user 'dave' (3 commands"));
      refused.push_back(e.error().seq());
    }
    sink.events.clear();
  }
  EXPECT_EQ(refused, (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(options.usage->queued.load(), 0);
  s->enqueue(batch(5, 3));  // within the quota again
  ASSERT_TRUE(wait_for([&] { return s->handle_count() == 7u; }));
  {
    std::lock_guard lock(sink.mu);
    for (const auto& e : sink.events) EXPECT_FALSE(e.has_error()) << e.error().message();
  }
  s->close();
  pool.join();
}

}  // namespace
}  // namespace td

namespace td {
namespace {

// Fair scheduling: with one pool thread, a session with a long queue of work yields after its time slice,
// so a light session's command, sent after the heavy queue, finishes long before it.
TEST(FairScheduling, AHeavySessionDoesNotStarveALightOne) {
  boost::asio::thread_pool pool(1);
  struct Sink : server::EventSink {
    Sink(std::mutex& m, std::vector<std::string>& o, std::string n) : mu(m), order(o), name(std::move(n)) {}
    bool send(const pb::ServerMessage& m) override {
      if (m.has_done()) {
        std::lock_guard lock(mu);
        order.push_back(name);
      }
      return true;
    }
    std::mutex& mu;
    std::vector<std::string>& order;
    std::string name;
  };
  std::mutex mu;
  std::vector<std::string> order;
  Sink heavy_sink(mu, order, "heavy"), light_sink(mu, order, "light");
  auto heavy = std::make_shared<server::Session>("h", server::SessionOptions{}, pool, nullptr);
  auto light = std::make_shared<server::Session>("l", server::SessionOptions{}, pool, nullptr);
  heavy->attach(&heavy_sink);
  light->attach(&light_sink);
  auto command = [](pb::CommandBatch& b, uint64_t seq) {
    pb::Command* c = b.add_commands();
    c->set_seq(seq);
    return c;
  };
  pb::CommandBatch work;
  auto* x = command(work, 1)->mutable_op();
  x->set_op("ones");
  x->add_args()->mutable_int_list()->add_values(128);
  x->mutable_args(0)->mutable_int_list()->add_values(128);
  x->add_outputs(1);
  for (uint64_t i = 0; i < 3000; ++i) {  // far more than one time slice of 128x128 products
    auto* mm = command(work, 2 + i)->mutable_op();
    mm->set_op("mm");
    mm->add_args()->set_tensor(1);
    mm->add_args()->set_tensor(1);
    mm->add_outputs(2);
  }
  command(work, 5000)->mutable_sync()->set_request_id(1);
  pb::CommandBatch ping;
  command(ping, 1)->mutable_sync()->set_request_id(1);
  heavy->enqueue(work);
  light->enqueue(ping);
  for (int i = 0; i < 3000; ++i) {
    {
      std::lock_guard lock(mu);
      if (order.size() == 2) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  heavy->close();
  light->close();
  pool.join();
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], "light");  // without time slices the heavy queue would run to its end first
}

}  // namespace
}  // namespace td

namespace td {
namespace {

// Sixteen clients train at once (a remote layer, SGD, a blocking hook that reads a value) for a bounded run
// with no error; once they close, every byte and handle they held is free and no session is left.
TEST(ConcurrentSessions, SixteenTrainAtOnceAndFreeEverything) {
  server::Server server(testing::loopback_server_options());
  const std::string target = "127.0.0.1:" + std::to_string(server.port());
  const int64_t baseline = memory_allocated(DeviceType::kCPU);
  constexpr int kClients = 16, kSteps = 20;
  std::vector<std::string> failures(kClients);
  std::vector<float> losses(kClients);
  {
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        try {
          remote::Client client(target);
          remote::Session s = client.create_session("client " + std::to_string(c), "cpu");
          auto fc = remote::nn::layer(s, "Linear", {Scalar(8), Scalar(1)});
          remote::optim::Optimizer sgd(s, "SGD", fc->parameters(), {{"lr", Scalar(0.1)}});
          Tensor x = s.tensor<float>(std::vector<float>(32 * 8, 0.5f), {32, 8});
          Tensor y = s.tensor<float>(std::vector<float>(32, 1.0f), {32, 1});
          for (int step = 0; step < kSteps; ++step) {
            sgd.zero_grad();
            Tensor out = (*fc)(x);
            out.register_hook([](const Tensor& g) -> std::optional<Tensor> {
              (void)g.abs().max().item<float>();  // a callback that reads a value, as the seed notes' alarm
              return std::nullopt;
            });
            Tensor loss = out.sub(y).pow(2.0).mean();
            loss.backward();
            sgd.step();
            if (step == kSteps - 1) losses[c] = loss.item<float>();
          }
        } catch (const std::exception& e) {
          failures[c] = e.what();
        }
      });
    }
    for (auto& t : clients) t.join();
  }
  for (int c = 0; c < kClients; ++c) {
    EXPECT_EQ(failures[c], "") << "client " << c;
    EXPECT_LT(losses[c], 0.5f) << "client " << c;  // each one trained (the loss starts near 1)
  }
  // Sessions close as their clients go; the executor frees their state on the pool.
  for (int i = 0; i < 200 && memory_allocated(DeviceType::kCPU) != baseline; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(memory_allocated(DeviceType::kCPU), baseline);
}

}  // namespace
}  // namespace td

namespace td {
namespace {

// SIGTERM's path: the commands the server has received run to their end, the attached client is told
// (its next sync point names the shutdown), and no new session is opened meanwhile.
TEST(GracefulShutdown, RunsWhatWasReceivedThenSaysGoodbye) {
  server::Options options = testing::loopback_server_options();
  options.threads = 1;
  server::Server server(options);
  remote::Client client("127.0.0.1:" + std::to_string(server.port()));
  remote::Session s = client.create_session("busy", "cpu");
  Tensor x = s.tensor<float>(std::vector<float>(64 * 64, 0.01f), {64, 64});
  s.sync();
  const uint64_t before = server.ops_executed();
  std::vector<Tensor> keep;
  // Two full batches go out at once; the rest waits in the client.
  for (int i = 0; i < 2 * remote::kBatchCommands + 100; ++i) keep.push_back(x.mm(x));
  for (int i = 0; i < 500 && server.ops_executed() == before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  server.shutdown();
  EXPECT_GE(server.ops_executed(), before + 2 * remote::kBatchCommands);  // both batches ran before the goodbye
  Error e = testing::error_of([&] { s.sync(); });
  EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
  EXPECT_THAT(e.what(), HasSubstr("the server is shutting down"));
  EXPECT_EQ(testing::error_of([&] { client.create_session("late", "cpu"); }).code(), ErrorCode::kUnavailable);
  keep.clear();
}

}  // namespace
}  // namespace td

namespace td {
namespace {

// A dropped stream (cut here from the server's side, as a network failure would) comes back by itself:
// the client attaches again, commands the server had not received are sent again, none runs twice (an
// in-place sum counts every one), and the events missed meanwhile are replayed.
TEST(Reattach, ADroppedStreamComesBackWithEveryCommandRunExactlyOnce) {
  server::Server server(testing::loopback_server_options());
  remote::Client client("127.0.0.1:" + std::to_string(server.port()));
  remote::Session s = client.create_session("flaky wifi", "cpu");
  Tensor acc = s.tensor<float>({0}, {1});
  Tensor one = s.tensor<float>({1}, {1});
  s.sync();
  auto session = server.sessions().get(s.id());
  auto drop = [&] { session->cancel_stream_unless([](const std::string&) { return false; }); };
  for (int round = 1; round <= 4; ++round) {
    // One full batch goes out; the rest waits in the client.
    for (int i = 0; i < remote::kBatchCommands + 88; ++i) acc.add_(one);
    drop();
    EXPECT_FLOAT_EQ(acc.item<float>(), static_cast<float>((remote::kBatchCommands + 88) * round)) << "round " << round;
  }
  // The session goes on over the last re-attached stream (event replay itself is the next test's).
  EXPECT_FLOAT_EQ(acc.sum().item<float>(), static_cast<float>((remote::kBatchCommands + 88) * 4));
  EXPECT_TRUE(session->attached());
}

// The stream drops while a blocking hook runs on the client: the backward waits, the client attaches again,
// its reply and the ops its callback issued reach the server, and the backward finishes as if nothing happened.
TEST(Reattach, AStreamThatDropsMidHookLetsTheBackwardFinishAfterTheReattach) {
  server::Server server(testing::loopback_server_options());
  remote::Client client("127.0.0.1:" + std::to_string(server.port()));
  remote::Session s = client.create_session("flaky hook", "cpu");
  Tensor a = s.tensor<double>({1, 2}, {2}, true);
  s.sync();
  auto session = server.sessions().get(s.id());
  int calls = 0;
  auto hook = a.register_hook([&](const Tensor& g) -> std::optional<Tensor> {
    ++calls;
    Tensor doubled = g.mul(2.0);
    EXPECT_EQ(doubled.sum().item<double>(), 12.0);  // a round trip inside the hook, before the drop
    session->cancel_stream_unless([](const std::string&) { return false; });
    return doubled;  // the reply goes out on a broken stream and is sent again after the re-attach
  });
  (a * a).sum().backward();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{4, 8}));
}

// A long pipeline with no events still hears acknowledgements, so the client can drop its copies: a
// message with ack_seq alone every 1,024 commands, not numbered and not kept for replay.
TEST(Reattach, CommandsAreAcknowledgedWithoutEvents) {
  boost::asio::thread_pool pool(1);
  auto session = std::make_shared<server::Session>("acks", server::SessionOptions{}, pool, nullptr);
  CaptureSink sink;
  session->attach(&sink);
  pb::CommandBatch batch;
  for (uint64_t seq = 1; seq <= 2100; ++seq) {
    auto* c = batch.add_commands();
    c->set_seq(seq);
    c->mutable_set_grad_mode()->set_enabled(true);  // runs, sends nothing
  }
  session->enqueue(batch);
  {
    std::lock_guard lock(sink.mu);
    ASSERT_EQ(sink.events.size(), 2u);  // attached, then one acknowledgement
    EXPECT_EQ(sink.events[1].kind_case(), pb::ServerMessage::KIND_NOT_SET);
    EXPECT_EQ(sink.events[1].event_seq(), 0u);
    EXPECT_EQ(sink.events[1].ack_seq(), 2100u);
  }
  session->close();
  pool.join();
}

TEST(Reattach, TheSessionReplaysEventsTheClientHadNotAcknowledged) {
  boost::asio::thread_pool pool(1);
  auto session = std::make_shared<server::Session>("r", server::SessionOptions{}, pool, nullptr);
  CaptureSink first, second;
  session->attach(&first);
  pb::CommandBatch batch;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    auto* c = batch.add_commands();
    c->set_seq(seq);
    c->mutable_sync()->set_request_id(seq);
  }
  session->run_inline(batch);
  ASSERT_EQ(first.events.size(), 4u);  // attached, then three `done`
  EXPECT_EQ(first.events[3].event_seq(), 3u);
  EXPECT_EQ(first.events[3].ack_seq(), 3u);
  session->detach(&first);
  // The client had processed event 1 only; it acknowledges that and attaches again.
  pb::CommandBatch ack;
  ack.set_ack_event(1);
  auto* again = ack.add_commands();  // seq 2 again: already received, so not run twice
  again->set_seq(2);
  again->mutable_sync()->set_request_id(99);
  session->run_inline(ack);
  session->attach(&second, "", /*last_event=*/1);
  ASSERT_EQ(second.events.size(), 3u);
  EXPECT_EQ(second.events[0].attached().last_seq(), 3u);
  EXPECT_FALSE(second.events[0].attached().events_lost());
  EXPECT_EQ(second.events[1].done().request_id(), 2u);
  EXPECT_EQ(second.events[2].done().request_id(), 3u);  // no `done` for request 99: seq 2 did not run again
  session->close();
  pool.join();
}

}  // namespace
}  // namespace td
