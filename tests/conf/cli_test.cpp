// The command line (conf/cli.h) and forwards (conf/forward.h).
#include <catch2/catch.hpp>

#include <initializer_list>
#include <string>
#include <vector>

#include "conf/cli.h"
#include "conf/emit.h"

using namespace std::chrono_literals;
using namespace parkway::conf;

namespace {

CommandLine parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv = {"parkway"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

// Requires a usage error of one line, exit code 2, and returns the line without '\n'.
std::string usage_error(std::initializer_list<const char*> args) {
  const CommandLine command_line = parse(args);
  INFO(command_line.text);
  REQUIRE(command_line.action == Action::usage_error);
  CHECK(command_line.exit_code == 2);
  REQUIRE_FALSE(command_line.text.empty());
  CHECK(command_line.text.back() == '\n');
  const std::string line = command_line.text.substr(0, command_line.text.size() - 1);
  CHECK(line.find('\n') == std::string::npos);
  CHECK_THAT(line, Catch::StartsWith("parkway: "));
  return line;
}

Config forwards_config(std::initializer_list<const char*> args) {
  const CommandLine command_line = parse(args);
  INFO(command_line.text);
  REQUIRE(command_line.action != Action::usage_error);
  LoadResult result = load(command_line);
  INFO(format(result.diagnostics));
  REQUIRE(result.ok());
  return std::move(*result.config);
}

}  // namespace

TEST_CASE("no arguments runs from the default config file", "[conf][cli]") {
  const CommandLine command_line = parse({});
  CHECK(command_line.action == Action::run);
  CHECK(command_line.exit_code == 0);
  CHECK(command_line.config_path == "/etc/parkway/parkway.toml");
  CHECK(command_line.forwards.empty());
  CHECK(command_line.settings.empty());
}

TEST_CASE("each action is chosen by its flag", "[conf][cli]") {
  CHECK(parse({"-c", "x.toml"}).config_path == "x.toml");
  CHECK(parse({"--config=x.toml"}).config_path == "x.toml");
  CHECK(parse({"--check-config"}).action == Action::check_config);
  CHECK(parse({"-c", "x.toml", "--print-config"}).action == Action::print_config);
  const CommandLine version = parse({"--version"});
  CHECK(version.action == Action::version);
  CHECK(version.exit_code == 0);
  CHECK_THAT(version.text, Catch::StartsWith("parkway "));
  const CommandLine help = parse({"-h"});
  CHECK(help.action == Action::help);
  CHECK(help.exit_code == 0);
  CHECK(parse({"--help"}).action == Action::help);
  CHECK(parse({"-L", "80=a:1", "--check-config"}).action == Action::check_config);
}

TEST_CASE("help teaches usage, grouped options with defaults, and examples", "[conf][cli]") {
  const std::string help = parse({"--help"}).text;
  CHECK_THAT(help, Catch::Contains("Usage: parkway [-c FILE] [OPTIONS]"));
  CHECK_THAT(help, Catch::Contains("parkway -L LISTEN=UPSTREAM[,UPSTREAM...]"));
  for (const char* group : {"General:", "Config file:", "Forwards:", "Runtime (", "Forward settings ("}) {
    CHECK_THAT(help, Catch::Contains(group));
  }
  for (const char* flag : {"--balance", "--connect-timeout", "--connect-attempts", "--dns-refresh", "--idle-timeout",
                           "--fin-timeout", "--max-duration", "--max-connections", "--reuse-port", "--backlog",
                           "--procs", "--log-level", "--drain-timeout", "--check-config", "--print-config",
                           "--version", "-L,--forward", "-c,--config"}) {
    CHECK_THAT(help, Catch::Contains(flag));
  }
  CHECK_THAT(help, Catch::Contains("Default: 5s"));
  CHECK_THAT(help, Catch::Contains("binds") && Catch::Contains("127.0.0.1"));
  CHECK_THAT(help, Catch::Contains("EXAMPLES"));
  CHECK_THAT(help, Catch::Contains("parkway -L 8080=10.0.0.5:80\n"));
  CHECK_THAT(help, Catch::Contains("--balance least_connections"));
  CHECK_THAT(help, Catch::Contains("--check-config\n"));
  CHECK_THAT(help, Catch::Contains("--print-config\n"));
}

TEST_CASE("a port alone binds loopback", "[conf][cli]") {
  const CommandLine command_line = parse({"-L", "8080=10.0.0.5:80"});
  REQUIRE(command_line.forwards.size() == 1);
  const Forward& forward = command_line.forwards[0];
  CHECK(forward.spec == "8080=10.0.0.5:80");
  CHECK(forward.listen.to_string() == "127.0.0.1:8080");
  REQUIRE(forward.upstreams.size() == 1);
  CHECK(forward.upstreams[0].to_string() == "10.0.0.5:80");
}

TEST_CASE("forwards take IPv4 and IPv6 listen addresses and several upstreams", "[conf][cli]") {
  const Config config = forwards_config(
      {"-L", "0.0.0.0:6380=redis-a:6379,redis-b:6379", "--forward", "[::]:443=[2001:db8::1]:8443", "-L80=x:1"});
  REQUIRE(config.listeners.size() == 3);
  CHECK(config.source == "command line");
  CHECK(config.listeners[0].address.to_string() == "0.0.0.0:6380");
  CHECK(config.listeners[1].address.to_string() == "[::]:443");
  CHECK(config.listeners[2].address.to_string() == "127.0.0.1:80");
  const Cluster* redis = config.find_cluster("fwd-6380");
  REQUIRE(redis != nullptr);
  REQUIRE(redis->endpoints.size() == 2);
  CHECK(redis->endpoints[1].host == "redis-b");
  CHECK(config.find_cluster("fwd-443")->endpoints[0].to_string() == "[2001:db8::1]:8443");
}

TEST_CASE("each forward is a listener and a cluster named after its port", "[conf][cli]") {
  const Config config =
      forwards_config({"-L", "8080=a:1", "-L", "127.0.0.2:8080=b:1", "-L", "[::1]:8080=c:1", "-L", "9090=d:1"});
  std::vector<std::string> names;
  for (const Listener& listener : config.listeners) {
    names.push_back(listener.name);
    CHECK(listener.cluster == listener.name);
    CHECK(config.find_cluster(listener.name) != nullptr);
  }
  CHECK(names == std::vector<std::string>{"fwd-8080", "fwd-8080-2", "fwd-8080-3", "fwd-9090"});
  CHECK(config.clusters.size() == 4);
}

TEST_CASE("forward settings apply to every forward, runtime flags to the runtime", "[conf][cli]") {
  const Config config = forwards_config(
      {"-L", "1=a:1", "-L", "2=b:1", "--balance", "least_connections", "--connect-timeout", "250ms",
       "--connect-attempts", "5", "--dns-refresh", "0s", "--idle-timeout", "10m", "--fin-timeout", "0",
       "--max-duration", "1h", "--max-connections", "10", "--reuse-port", "--backlog", "16", "--procs", "2",
       "--log-level", "debug", "--drain-timeout", "5s"});
  for (const Cluster& cluster : config.clusters) {
    CHECK(cluster.balance == Balance::least_connections);
    CHECK(cluster.connect_timeout == 250ms);
    CHECK(cluster.connect_attempts == 5);
    CHECK(cluster.dns_refresh == 0s);
    CHECK(cluster.idle_timeout == 10min);
    CHECK(cluster.fin_timeout == 0s);
    CHECK(cluster.max_duration == 1h);
  }
  for (const Listener& listener : config.listeners) {
    CHECK(listener.max_connections == 10);
    CHECK(listener.reuse_port);
    CHECK(listener.backlog == 16);
  }
  CHECK(config.runtime.procs == 2);
  CHECK(config.runtime.log_level == LogLevel::debug);
  CHECK(config.runtime.drain_timeout == 5s);
  // A flag given twice: the last one wins, like most command lines.
  CHECK(forwards_config({"-L", "1=a:1", "--backlog", "3", "--backlog", "4"}).listeners[0].backlog == 4);
  CHECK_FALSE(forwards_config({"-L", "1=a:1", "--reuse-port=false"}).listeners[0].reuse_port);
}

TEST_CASE("runtime flags override the config file", "[conf][cli]") {
  const std::string path = std::string(PARKWAY_SOURCE_DIR) + "/packaging/parkway.toml";
  const CommandLine command_line =
      parse({"-c", path.c_str(), "--procs", "7", "--log-level", "warn", "--drain-timeout", "1m"});
  REQUIRE(command_line.action == Action::run);
  const LoadResult result = load(command_line);
  REQUIRE(result.ok());
  CHECK(result.config->runtime.procs == 7);
  CHECK(result.config->runtime.log_level == LogLevel::warn);
  CHECK(result.config->runtime.drain_timeout == 1min);
  CHECK(result.config->source == path);
}

TEST_CASE("a missing config file is a load error, not a usage error", "[conf][cli]") {
  const CommandLine command_line = parse({"-c", "/nonexistent.toml", "--check-config"});
  REQUIRE(command_line.action == Action::check_config);
  const LoadResult result = load(command_line);
  CHECK_FALSE(result.ok());
  REQUIRE(result.diagnostics.size() == 1);
  CHECK_THAT(result.diagnostics[0].message, Catch::Contains("No such file or directory"));
}

TEST_CASE("bad flag values are one line naming the flag, the value and what is accepted", "[conf][cli]") {
  CHECK(usage_error({"-L", "1=a:1", "--connect-timeout", "5 sec"}) ==
        R"(parkway: --connect-timeout "5 sec": expected a duration such as "250ms", "5s" or "1h")");
  CHECK(usage_error({"--procs", "x"}) == R"(parkway: --procs "x": expected an integer 0..1024)");
  CHECK(usage_error({"--procs", "2000"}) == R"(parkway: --procs "2000": expected an integer 0..1024)");
  CHECK(usage_error({"--log-level", "loud"}) ==
        R"(parkway: --log-level "loud": expected one of "error", "warn", "info" or "debug")");
  CHECK(usage_error({"-L", "1=a:1", "--balance", "least_connection"}) ==
        R"(parkway: --balance "least_connection": expected one of "round_robin", "least_connections" or )"
        R"("power_of_two"; did you mean "least_connections"?)");
  CHECK_THAT(usage_error({"-L", "1=a:1", "--connect-timeout", "2h"}), Catch::Contains("> 0 and <= 1h"));
  CHECK_THAT(usage_error({"--drain-timeout", "0s"}), Catch::Contains("expected a duration > 0"));
  CHECK_THAT(usage_error({"--procs"}), Catch::Contains("--procs needs a value"));
}

TEST_CASE("bad -L values are one line", "[conf][cli]") {
  CHECK(usage_error({"-L", "8080"}) ==
        R"(parkway: -L "8080": expected LISTEN=UPSTREAM[,UPSTREAM...] such as "8080=10.0.0.5:80")");
  CHECK(usage_error({"-L", "70000=a:1"}) ==
        R"(parkway: -L "70000=a:1": listen address "70000": expected a port 0..65535)");
  CHECK(usage_error({"-L", "80=a:0"}) == R"(parkway: -L "80=a:0": upstream "a:0": expected a port 1..65535)");
  CHECK(usage_error({"-L", "80=a:65536"}) ==
        R"(parkway: -L "80=a:65536": upstream "a:65536": expected a port 1..65535)");
  CHECK_THAT(usage_error({"-L", "localhost:80=a:1"}),
             Catch::Contains("not a DNS name") && Catch::Contains("a port alone, such as 8080, binds 127.0.0.1"));
  CHECK_THAT(usage_error({"-L", "80="}), Catch::Contains("at least one upstream"));
  CHECK_THAT(usage_error({"-L", "80=a:1,"}), Catch::Contains("upstream \"\""));
  CHECK_THAT(usage_error({"-L", "80=bad_host:1"}), Catch::Contains("neither an IP address nor a DNS name"));
  CHECK_THAT(usage_error({"-L", "80=::1:1"}), Catch::Contains("needs brackets"));
  CHECK_THAT(usage_error({"-L", "80=a:1,A:1"}), Catch::Contains("expected each endpoint once"));
  CHECK_THAT(usage_error({"-L", "80=a:1", "-L", "127.0.0.1:80=b:1"}),
             Catch::StartsWith(R"(parkway: -L "127.0.0.1:80=b:1": expected a unique listen address)"));
}

TEST_CASE("unknown options and stray arguments are one line naming them", "[conf][cli]") {
  CHECK(usage_error({"--bogus"}) == R"(parkway: unknown option "--bogus"; see parkway --help for the options)");
  CHECK(usage_error({"-L", "1=a:1", "--conect-timeout", "5s"}) ==
        R"(parkway: unknown option "--conect-timeout"; did you mean --connect-timeout?)");
  CHECK(usage_error({"--print_config"}) == R"(parkway: unknown option "--print_config"; did you mean --print-config?)");
  CHECK_THAT(usage_error({"-x"}), Catch::Contains("unknown option \"-x\""));
  CHECK_THAT(usage_error({"parkway.toml"}), Catch::StartsWith(R"(parkway: unexpected argument "parkway.toml")"));
  CHECK_THAT(usage_error({"--", "-L"}), Catch::StartsWith(R"(parkway: unexpected argument "-L")"));
  CHECK(parse({"--"}).action == Action::run);
  CHECK(usage_error({"-L", "1=a:1", "--reuse-port=maybe"}) == R"(parkway: --reuse-port "maybe": expected true or false)");
}

TEST_CASE("a config file and forwards together are a usage error", "[conf][cli]") {
  CHECK_THAT(usage_error({"-c", "x.toml", "-L", "1=a:1"}),
             Catch::Contains("-c/--config and -L/--forward do not go together"));
}

TEST_CASE("cluster and listener flags without -L say to use the file", "[conf][cli]") {
  CHECK(usage_error({"--connect-timeout", "5s"}) ==
        "parkway: --connect-timeout applies to -L forwards only; with a config file, set connect_timeout in "
        "its [[cluster]] tables instead");
  CHECK_THAT(usage_error({"-c", "x.toml", "--backlog", "5"}), Catch::Contains("set backlog in its [[listener]] tables"));
  CHECK_THAT(usage_error({"--reuse-port"}), Catch::Contains("--reuse-port applies to -L forwards only"));
}

TEST_CASE("checking and printing the config together are a usage error", "[conf][cli]") {
  CHECK_THAT(usage_error({"--check-config", "--print-config"}), Catch::Contains("do not go together"));
}

TEST_CASE("the flag settings are recorded with their keys", "[conf][cli]") {
  const CommandLine command_line = parse({"-L", "1=a:1", "--idle-timeout", "5m", "--procs", "1"});
  REQUIRE(command_line.settings.size() == 2);
  CHECK(command_line.settings[0] == FlagSetting{"--procs", "runtime", "procs", "1"});
  CHECK(command_line.settings[1] == FlagSetting{"--idle-timeout", "cluster", "idle_timeout", "5m"});
}
