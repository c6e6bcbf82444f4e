// The command line (conf/cli.h) and forwards (conf/forward.h).
#include "conf/cli.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include "conf/emit.h"
#include "conf/parse.h"

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
  for (const char* group :
       {"General:", "Config file:", "Forwards:", "Runtime (", "Forward settings ("}) {
    CHECK_THAT(help, Catch::Contains(group));
  }
  for (const char* flag :
       {"--balance", "--connect-timeout", "--connect-attempts", "--dns-refresh", "--idle-timeout",
        "--fin-timeout", "--max-duration", "--max-connections", "--reuse-port", "--backlog",
        "--procs", "--log-level", "--drain-timeout", "--check-config", "--print-config",
        "--version", "-L,--forward", "-c,--config"}) {
    CHECK_THAT(help, Catch::Contains(flag));
  }
  CHECK_THAT(help, Catch::Contains("Default: 5s"));
  // The help is wrapped: read it with every run of spaces and newlines as one space.
  std::string flat;
  for (const char c : help) {
    const bool space = c == ' ' || c == '\n';
    if (!space || (!flat.empty() && flat.back() != ' ')) flat += space ? ' ' : c;
  }
  CHECK_THAT(flat, Catch::Contains("--access-log stderr|off|PATH"));
  CHECK_THAT(flat, Catch::Contains("Default: stderr (off with -L)."));
  CHECK_THAT(flat, Catch::Contains("a port alone for 127.0.0.1 (\"9901\")"));
  CHECK_THAT(flat, Catch::Contains("LISTEN is PORT (binds 127.0.0.1 and ::1)"));
  CHECK_THAT(help, Catch::Contains("binds") && Catch::Contains("127.0.0.1"));
  CHECK_THAT(help, Catch::Contains("EXAMPLES"));
  CHECK_THAT(help, Catch::Contains("parkway -L 8080=10.0.0.5:80\n"));
  CHECK_THAT(help, Catch::Contains("--balance least_connections"));
  CHECK_THAT(help, Catch::Contains("--check-config\n"));
  CHECK_THAT(help, Catch::Contains("--print-config\n"));
}

TEST_CASE("a port alone binds both loopback addresses, for one cluster", "[conf][cli]") {
  const CommandLine command_line = parse({"-L", "8080=10.0.0.5:80"});
  REQUIRE(command_line.forwards.size() == 1);
  const Forward& forward = command_line.forwards[0];
  CHECK(forward.spec == "8080=10.0.0.5:80");
  CHECK(forward.listen.to_string() == "127.0.0.1:8080");
  CHECK(forward.ipv6_loopback_too);
  REQUIRE(forward.upstreams.size() == 1);
  CHECK(forward.upstreams[0].to_string() == "10.0.0.5:80");

  const Config config = forwards_config({"-L", "8080=10.0.0.5:80"});
  REQUIRE(config.listeners.size() == 2);
  CHECK(config.listeners[0].name == "fwd-8080");
  CHECK(config.listeners[0].address.to_string() == "127.0.0.1:8080");
  CHECK(config.listeners[1].name == "fwd-8080-v6");
  CHECK(config.listeners[1].address.to_string() == "[::1]:8080");
  REQUIRE(config.clusters.size() == 1);
  CHECK(config.listeners[0].cluster == "fwd-8080");
  CHECK(config.listeners[1].cluster == "fwd-8080");

  // Without ::1 on the host: 127.0.0.1 only.
  const LoadResult v4_only = load(command_line, false);
  REQUIRE(v4_only.ok());
  REQUIRE(v4_only.config->listeners.size() == 1);
  CHECK(v4_only.config->listeners[0].address.to_string() == "127.0.0.1:8080");

  // Port 0: the kernel would pick two different ports, so 127.0.0.1 only.
  const Config any_port = forwards_config({"-L", "0=10.0.0.5:80"});
  REQUIRE(any_port.listeners.size() == 1);
  CHECK(any_port.listeners[0].address.to_string() == "127.0.0.1:0");
  // An address is bound as written, and only that.
  CHECK(forwards_config({"-L", "127.0.0.1:8080=a:1"}).listeners.size() == 1);
  CHECK(forwards_config({"-L", "[::1]:8080=a:1"}).listeners.size() == 1);
}

TEST_CASE("a port alone prints as two listeners that read back to the same config", "[conf][cli]") {
  const Config config = forwards_config({"-L", "8080=10.0.0.5:80", "-L", "0=10.0.0.6:80"});
  const std::string toml = to_toml(config);
  CHECK_THAT(toml, Catch::Contains("name = \"fwd-8080-v6\"\naddress = \"[::1]:8080\"\n"
                                   "cluster = \"fwd-8080\"\n"));
  const LoadResult again = load_string(toml, "printed.toml");
  INFO(toml << format(again.diagnostics));
  REQUIRE(again.ok());
  CHECK(again.diagnostics.empty());  // no cluster left unused, nothing to warn about
  Config expected = config;
  expected.source = "printed.toml";
  CHECK(*again.config == expected);
  CHECK(to_toml(*again.config).substr(toml.find('\n')) == toml.substr(toml.find('\n')));
}

TEST_CASE("a forward that repeats what a port alone binds names the forward that repeats it",
          "[conf][cli]") {
  CHECK_THAT(usage_error({"-L", "80=a:1", "-L", "[::1]:80=b:1"}),
             Catch::StartsWith(R"(parkway: -L "[::1]:80=b:1": expected a unique listen address)"));
  CHECK_THAT(usage_error({"-L", "[::1]:80=b:1", "-L", "80=a:1"}),
             Catch::StartsWith(R"(parkway: -L "80=a:1": expected a unique listen address)"));
}

TEST_CASE("ssh's -L spelling is recognised and answered with the forward it means", "[conf][cli]") {
  CHECK(usage_error({"-L", "8080:10.0.0.5:80"}) ==
        R"(parkway: -L "8080:10.0.0.5:80": expected LISTEN=UPSTREAM, with '=' where ssh -L )"
        R"(writes ':'; did you mean 8080=10.0.0.5:80?)");
  CHECK_THAT(usage_error({"-L", "localhost:5432:db.internal:5432"}),
             Catch::EndsWith("did you mean 5432=db.internal:5432?"));
  CHECK_THAT(usage_error({"-L", "*:8080:web:80"}),
             Catch::EndsWith("did you mean 0.0.0.0:8080=web:80?"));
  CHECK_THAT(usage_error({"-L", "127.0.0.2:8080:[2001:db8::1]:80"}),
             Catch::EndsWith("did you mean 127.0.0.2:8080=[2001:db8::1]:80?"));
  CHECK_THAT(usage_error({"--forward=[::1]:8080:web:80"}),
             Catch::EndsWith("did you mean [::1]:8080=web:80?"));
  // Not ssh's form: the generic message, without a guess.
  CHECK(usage_error({"-L", "8080:web:http"}) ==
        R"(parkway: -L "8080:web:http": expected LISTEN=UPSTREAM[,UPSTREAM...] such as )"
        R"("8080=10.0.0.5:80")");
  // The forward written without -L.
  CHECK(usage_error({"8080:10.0.0.5:80"}) ==
        R"(parkway: unexpected argument "8080:10.0.0.5:80"; did you mean -L 8080=10.0.0.5:80?)");
  // What each suggestion says is itself a forward that parses.
  for (const char* spec : {"8080:10.0.0.5:80", "localhost:5432:db.internal:5432", "*:8080:web:80",
                           "127.0.0.2:8080:[2001:db8::1]:80"}) {
    INFO(spec);
    CHECK(parse_forward(from_ssh_form(spec)).ok());
  }
}

TEST_CASE("forwards take IPv4 and IPv6 listen addresses and several upstreams", "[conf][cli]") {
  const Config config = forwards_config({"-L", "0.0.0.0:6380=redis-a:6379,redis-b:6379",
                                         "--forward", "[::]:443=[2001:db8::1]:8443", "-L80=x:1"});
  REQUIRE(config.listeners.size() == 4);
  CHECK(config.source == "command line");
  CHECK(config.listeners[0].address.to_string() == "0.0.0.0:6380");
  CHECK(config.listeners[1].address.to_string() == "[::]:443");
  CHECK(config.listeners[2].address.to_string() == "127.0.0.1:80");
  CHECK(config.listeners[3].address.to_string() == "[::1]:80");
  const Cluster* redis = config.find_cluster("fwd-6380");
  REQUIRE(redis != nullptr);
  REQUIRE(redis->endpoints.size() == 2);
  CHECK(redis->endpoints[1].host == "redis-b");
  CHECK(config.find_cluster("fwd-443")->endpoints[0].to_string() == "[2001:db8::1]:8443");
}

TEST_CASE("each forward is a cluster and its listeners, named after its port", "[conf][cli]") {
  const Config config = forwards_config(
      {"-L", "8080=a:1", "-L", "127.0.0.2:8080=b:1", "-L", "127.0.0.3:8080=c:1", "-L", "9090=d:1"});
  std::vector<std::string> names;
  std::vector<std::string> clusters;
  for (const Listener& listener : config.listeners) {
    names.push_back(listener.name);
    clusters.push_back(listener.cluster);
    CHECK(config.find_cluster(listener.cluster) != nullptr);
  }
  CHECK(names == std::vector<std::string>{"fwd-8080", "fwd-8080-v6", "fwd-8080-2", "fwd-8080-3",
                                          "fwd-9090", "fwd-9090-v6"});
  CHECK(clusters == std::vector<std::string>{"fwd-8080", "fwd-8080", "fwd-8080-2", "fwd-8080-3",
                                             "fwd-9090", "fwd-9090"});
  CHECK(config.clusters.size() == 4);
}

TEST_CASE("forward settings apply to every forward, runtime flags to the runtime", "[conf][cli]") {
  const Config config = forwards_config({"-L",
                                         "1=a:1",
                                         "-L",
                                         "2=b:1",
                                         "--balance",
                                         "least_connections",
                                         "--connect-timeout",
                                         "250ms",
                                         "--connect-attempts",
                                         "5",
                                         "--dns-refresh",
                                         "0s",
                                         "--idle-timeout",
                                         "10m",
                                         "--fin-timeout",
                                         "0",
                                         "--max-duration",
                                         "1h",
                                         "--max-connections",
                                         "10",
                                         "--reuse-port",
                                         "--backlog",
                                         "16",
                                         "--procs",
                                         "2",
                                         "--log-level",
                                         "debug",
                                         "--drain-timeout",
                                         "5s"});
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
  CHECK(forwards_config({"-L", "1=a:1", "--backlog", "3", "--backlog", "4"}).listeners[0].backlog ==
        4);
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

TEST_CASE("bad flag values are one line naming the flag, the value and what is accepted",
          "[conf][cli]") {
  CHECK(usage_error({"-L", "1=a:1", "--connect-timeout", "5 sec"}) ==
        R"(parkway: --connect-timeout "5 sec": expected a duration such as "250ms", "5s" or "1h")");
  CHECK(usage_error({"--procs", "x"}) == R"(parkway: --procs "x": expected an integer 0..1024)");
  CHECK(usage_error({"--procs", "2000"}) ==
        R"(parkway: --procs "2000": expected an integer 0..1024)");
  CHECK(usage_error({"--log-level", "loud"}) ==
        R"(parkway: --log-level "loud": expected one of "error", "warn", "info" or "debug")");
  CHECK(
      usage_error({"-L", "1=a:1", "--balance", "least_connection"}) ==
      R"(parkway: --balance "least_connection": expected one of "round_robin", "least_connections" or )"
      R"("power_of_two"; did you mean "least_connections"?)");
  CHECK_THAT(usage_error({"-L", "1=a:1", "--connect-timeout", "2h"}),
             Catch::Contains("> 0 and <= 1h"));
  CHECK_THAT(usage_error({"--drain-timeout", "0s"}), Catch::Contains("expected a duration > 0"));
  CHECK_THAT(usage_error({"--procs"}), Catch::Contains("--procs needs a value"));
}

TEST_CASE("bad -L values are one line", "[conf][cli]") {
  CHECK(usage_error({"-L", "8080"}) ==
        R"(parkway: -L "8080": expected LISTEN=UPSTREAM[,UPSTREAM...] such as "8080=10.0.0.5:80")");
  CHECK(usage_error({"-L", "70000=a:1"}) ==
        R"(parkway: -L "70000=a:1": listen address "70000": expected a port 0..65535)");
  CHECK(usage_error({"-L", "80=a:0"}) ==
        R"(parkway: -L "80=a:0": upstream "a:0": expected a port 1..65535)");
  CHECK(usage_error({"-L", "80=a:65536"}) ==
        R"(parkway: -L "80=a:65536": upstream "a:65536": expected a port 1..65535)");
  CHECK_THAT(usage_error({"-L", "localhost:80=a:1"}),
             Catch::Contains("not a DNS name") &&
                 Catch::Contains("a port alone, such as 8080, binds 127.0.0.1 and ::1"));
  CHECK_THAT(usage_error({"-L", "80="}), Catch::Contains("at least one upstream"));
  CHECK_THAT(usage_error({"-L", "80=a:1,"}), Catch::Contains("upstream \"\""));
  CHECK_THAT(usage_error({"-L", "80=bad_host:1"}),
             Catch::Contains("neither an IP address nor a DNS name"));
  CHECK_THAT(usage_error({"-L", "80=::1:1"}), Catch::Contains("needs brackets"));
  CHECK_THAT(usage_error({"-L", "80=a:1,A:1"}), Catch::Contains("expected each endpoint once"));
  CHECK_THAT(
      usage_error({"-L", "80=a:1", "-L", "127.0.0.1:80=b:1"}),
      Catch::StartsWith(R"(parkway: -L "127.0.0.1:80=b:1": expected a unique listen address)"));
}

TEST_CASE("unknown options and stray arguments are one line naming them", "[conf][cli]") {
  CHECK(usage_error({"--bogus"}) ==
        R"(parkway: unknown option "--bogus"; see parkway --help for the options)");
  CHECK(usage_error({"-L", "1=a:1", "--conect-timeout", "5s"}) ==
        R"(parkway: unknown option "--conect-timeout"; did you mean --connect-timeout?)");
  CHECK(usage_error({"--print_config"}) ==
        R"(parkway: unknown option "--print_config"; did you mean --print-config?)");
  CHECK_THAT(usage_error({"-x"}), Catch::Contains("unknown option \"-x\""));
  CHECK_THAT(usage_error({"parkway.toml"}),
             Catch::StartsWith(R"(parkway: unexpected argument "parkway.toml")"));
  CHECK_THAT(usage_error({"--", "-L"}), Catch::StartsWith(R"(parkway: unexpected argument "-L")"));
  CHECK(parse({"--"}).action == Action::run);
  CHECK(usage_error({"-L", "1=a:1", "--reuse-port=maybe"}) ==
        R"(parkway: --reuse-port "maybe": expected true or false)");
  // Suggestions come from every option the parser knows, the generated ones included.
  CHECK(usage_error({"--acess-log", "off"}) ==
        R"(parkway: unknown option "--acess-log"; did you mean --access-log?)");
  CHECK(usage_error({"--admn", "9901"}) ==
        R"(parkway: unknown option "--admn"; did you mean --admin?)");
  CHECK(usage_error({"--hlep"}) == R"(parkway: unknown option "--hlep"; did you mean --help?)");
  CHECK(usage_error({"--forwad", "1=a:1"}) ==
        R"(parkway: unknown option "--forwad"; did you mean --forward?)");
}

TEST_CASE("yes/no flags and missing values are explained without CLI11's words", "[conf][cli]") {
  // Every yes/no flag reads its value like a key's: true or false, nothing else.
  CHECK(usage_error({"--help=maybe"}) == R"(parkway: --help "maybe": expected true or false)");
  CHECK(usage_error({"--check-config=2"}) ==
        R"(parkway: --check-config "2": expected true or false)");
  CHECK(parse({"--check-config=false"}).action == Action::run);
  CHECK(parse({"--print-config=true"}).action == Action::print_config);
  CHECK(parse({"--version=false", "--help=false"}).action == Action::run);
  CHECK(forwards_config({"-L", "1=a:1", "--reuse-port=true"}).listeners[0].reuse_port);
  // A value missing after the last option, whichever spelling it was given in.
  CHECK(usage_error({"-c"}) == "parkway: -c needs a value; see parkway --help");
  CHECK(usage_error({"-L"}) == "parkway: -L needs a value; see parkway --help");
  CHECK(usage_error({"-L", "1=a:1", "--connect-timeout"}) ==
        "parkway: --connect-timeout needs a value; see parkway --help");
  CHECK(usage_error({"--access-log"}) == "parkway: --access-log needs a value; see parkway --help");
  // CLI11 takes the next argument as the value, whatever it looks like: it is then judged
  // as a value.
  CHECK(usage_error({"--procs", "--log-level"}) ==
        R"(parkway: --procs "--log-level": expected an integer 0..1024)");
  // A flag given twice: the last one wins.
  const CommandLine twice = parse({"--procs", "1", "--procs", "2"});
  REQUIRE(twice.settings.size() == 1);
  CHECK(twice.settings[0].value == "2");
}

TEST_CASE("the admin address takes a port alone, on 127.0.0.1", "[conf][cli]") {
  Config config = forwards_config({"-L", "1=a:1", "--admin", "9901"});
  REQUIRE(config.admin.address.has_value());
  CHECK(config.admin.address->to_string() == "127.0.0.1:9901");
  config = forwards_config({"-L", "1=a:1", "--admin", "0.0.0.0:9901"});
  CHECK(config.admin.address->to_string() == "0.0.0.0:9901");
  CHECK_FALSE(forwards_config({"-L", "1=a:1", "--admin", "off"}).admin.address.has_value());
  CHECK_FALSE(forwards_config({"-L", "1=a:1"}).admin.address.has_value());
  CHECK(usage_error({"--admin", "99999"}) ==
        R"(parkway: --admin "99999": expected a port 0..65535)");
  CHECK_THAT(usage_error({"--admin", "localhost:9901"}),
             Catch::StartsWith(R"(parkway: --admin "localhost:9901": expected "off", a port alone )"
                               R"((on 127.0.0.1) or an IP address and port)"));
  // The same in a file: a port alone is 127.0.0.1, and prints as such.
  const LoadResult file = load_string(
      "[admin]\naddress = \"9901\"\n[[listener]]\nname = \"a\"\naddress = \"127.0.0.1:1\"\n"
      "cluster = \"a\"\n[[cluster]]\nname = \"a\"\nendpoints = [\"a:1\"]\n",
      "admin.toml");
  INFO(format(file.diagnostics));
  REQUIRE(file.ok());
  CHECK(file.config->admin.address->to_string() == "127.0.0.1:9901");
  CHECK_THAT(to_toml(*file.config), Catch::Contains("address = \"127.0.0.1:9901\""));
}

TEST_CASE("the access log is off for -L forwards and on stderr for a file, unless asked",
          "[conf][cli]") {
  CHECK(forwards_config({"-L", "1=a:1"}).access_log.destination.kind == LogDestination::Kind::off);
  CHECK(forwards_config({"-L", "1=a:1", "--access-log", "stderr"}).access_log.destination.kind ==
        LogDestination::Kind::stderr_stream);
  const std::string path = std::string(PARKWAY_SOURCE_DIR) + "/packaging/parkway.toml";
  const LoadResult file = load(parse({"-c", path.c_str()}));
  REQUIRE(file.ok());
  CHECK(file.config->access_log.destination.kind == LogDestination::Kind::stderr_stream);
  // --print-config of forwards says so, and a file printed from it keeps it off.
  const Config config = forwards_config({"-L", "1=a:1"});
  const std::string toml = to_toml(config);
  CHECK_THAT(toml, Catch::Contains("[access_log]\ndestination = \"off\"\n"));
  const LoadResult again = load_string(toml, "printed.toml");
  REQUIRE(again.ok());
  CHECK(again.config->access_log.destination.kind == LogDestination::Kind::off);
}

TEST_CASE("a relative --access-log path is made absolute from the working directory",
          "[conf][cli]") {
  const std::string cwd = std::filesystem::current_path().string();
  Config config = forwards_config({"-L", "1=a:1", "--access-log", "access.log"});
  CHECK(config.access_log.destination.kind == LogDestination::Kind::file);
  CHECK(config.access_log.destination.path == cwd + "/access.log");
  config = forwards_config({"-L", "1=a:1", "--access-log", "./logs/../parkway/a.log"});
  CHECK(config.access_log.destination.path == cwd + "/parkway/a.log");
  config = forwards_config({"-L", "1=a:1", "--access-log", "/var/log/parkway/access.log"});
  CHECK(config.access_log.destination.path == "/var/log/parkway/access.log");
  // The setting records the absolute path, so --print-config shows it.
  const CommandLine command_line = parse({"--access-log", "a.log"});
  REQUIRE(command_line.settings.size() == 1);
  CHECK(command_line.settings[0].value == cwd + "/a.log");
  // A directory is no file, and the message quotes what was typed.
  CHECK_THAT(usage_error({"--access-log", "logs/"}),
             Catch::StartsWith(R"(parkway: --access-log "logs/": expected "stderr", "off")"));
}

TEST_CASE("no config file where the default one should be: say how else to start", "[conf][cli]") {
  CommandLine command_line = parse({});
  command_line.config_path = "/nonexistent/parkway/parkway.toml";  // as if it were the default
  LoadResult result = load(command_line);
  REQUIRE_FALSE(result.ok());
  REQUIRE(result.diagnostics.size() == 1);
  CHECK(result.diagnostics[0].message ==
        "cannot open the config file: No such file or directory; give a config with -c FILE, or "
        "forward with -L PORT=HOST:PORT (parkway --help)");
  // A file named with -c is what the user asked for: only what is wrong with it.
  result = load(parse({"-c", "/nonexistent/parkway/parkway.toml"}));
  REQUIRE(result.diagnostics.size() == 1);
  CHECK(result.diagnostics[0].message == "cannot open the config file: No such file or directory");
}

TEST_CASE("a config file and forwards together are a usage error", "[conf][cli]") {
  CHECK_THAT(usage_error({"-c", "x.toml", "-L", "1=a:1"}),
             Catch::Contains("-c/--config and -L/--forward do not go together"));
}

TEST_CASE("cluster and listener flags without -L say to use the file", "[conf][cli]") {
  CHECK(usage_error({"--connect-timeout", "5s"}) ==
        "parkway: --connect-timeout applies to -L forwards only; with a config file, set "
        "connect_timeout in "
        "its [[cluster]] tables instead");
  CHECK_THAT(usage_error({"-c", "x.toml", "--backlog", "5"}),
             Catch::Contains("set backlog in its [[listener]] tables"));
  CHECK_THAT(usage_error({"--reuse-port"}),
             Catch::Contains("--reuse-port applies to -L forwards only"));
}

TEST_CASE("checking and printing the config together are a usage error", "[conf][cli]") {
  CHECK_THAT(usage_error({"--check-config", "--print-config"}),
             Catch::Contains("do not go together"));
}

TEST_CASE("the flag settings are recorded with their keys", "[conf][cli]") {
  const CommandLine command_line = parse({"-L", "1=a:1", "--idle-timeout", "5m", "--procs", "1"});
  REQUIRE(command_line.settings.size() == 2);
  CHECK(command_line.settings[0] == FlagSetting{"--procs", "runtime", "procs", "1"});
  CHECK(command_line.settings[1] == FlagSetting{"--idle-timeout", "cluster", "idle_timeout", "5m"});
}
