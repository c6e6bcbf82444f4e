#include "tests/support/observe.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "netpoll/socket.h"
#include "scheduler/runtime.h"

namespace parkway::observe {

namespace {

std::string proc_path(pid_t pid, const std::string& leaf) {
  return "/proc/" + std::to_string(pid) + "/" + leaf;
}

// Socket inodes of pid's descriptors.
std::set<unsigned long> socket_inodes(pid_t pid) {
  std::set<unsigned long> out;
  for (const auto& t : fd_targets(pid)) {
    if (t.rfind("socket:[", 0) == 0) out.insert(std::stoul(t.substr(8)));
  }
  return out;
}

const char* tcp_state_name(int s) {
  static const char* names[] = {
      "?",     "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",
      "CLOSE", "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV"};
  return s >= 0 && s < 13 ? names[s] : "?";
}

struct TcpRow {
  uint16_t local_port = 0, remote_port = 0;
  std::string state;
  unsigned long inode = 0;
};

std::vector<TcpRow> tcp_rows() {
  std::vector<TcpRow> rows;
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      std::istringstream f(line);
      std::string sl, local, remote, st, queues, timer, retr, uid, timeout;
      unsigned long inode = 0;
      if (!(f >> sl >> local >> remote >> st >> queues >> timer >> retr >> uid >> timeout >> inode))
        continue;
      TcpRow r;
      r.local_port =
          static_cast<uint16_t>(std::stoul(local.substr(local.find(':') + 1), nullptr, 16));
      r.remote_port =
          static_cast<uint16_t>(std::stoul(remote.substr(remote.find(':') + 1), nullptr, 16));
      r.state = tcp_state_name(std::stoi(st, nullptr, 16));
      r.inode = inode;
      rows.push_back(r);
    }
  }
  return rows;
}

}  // namespace

int fd_count(pid_t pid) {
  DIR* d = opendir(proc_path(pid, "fd").c_str());
  if (!d) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

std::vector<std::string> fd_targets(pid_t pid) {
  std::vector<std::string> out;
  const std::string dir = proc_path(pid, "fd");
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char buf[512];
    const ssize_t n = readlink((dir + "/" + e->d_name).c_str(), buf, sizeof buf - 1);
    if (n <= 0) continue;  // closed meanwhile
    out.emplace_back(buf, static_cast<size_t>(n));
  }
  closedir(d);
  return out;
}

std::string fd_summary(pid_t pid) {
  std::map<std::string, int> kinds;
  const auto targets = fd_targets(pid);
  for (const auto& t : targets) {
    const size_t colon = t.find(":[");
    kinds[colon == std::string::npos ? t : t.substr(0, colon)]++;
  }
  std::string out = std::to_string(targets.size()) + " fds:";
  for (const auto& [k, n] : kinds) out += " " + std::to_string(n) + " " + k + ",";
  return out;
}

std::map<std::string, int> socket_states(pid_t pid) {
  const auto inodes = socket_inodes(pid);
  std::map<std::string, int> out;
  for (const auto& r : tcp_rows()) {
    if (inodes.count(r.inode)) out[r.state]++;
  }
  return out;
}

int sockets_in_state(const std::string& state, const std::vector<uint16_t>& ports) {
  int n = 0;
  for (const auto& r : tcp_rows()) {
    if (r.state != state) continue;
    for (uint16_t p : ports) {
      if (r.local_port == p || r.remote_port == p) {
        n++;
        break;
      }
    }
  }
  return n;
}

Memory memory(pid_t pid) {
  Memory m;
  std::ifstream in(proc_path(pid, "status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) m.rss_kib = std::stol(line.substr(6));
    if (line.rfind("VmHWM:", 0) == 0) m.hwm_kib = std::stol(line.substr(6));
  }
  return m;
}

double cpu_seconds(pid_t pid) {
  std::ifstream in(proc_path(pid, "stat"));
  std::string all;
  std::getline(in, all);  // one line
  // The command may contain spaces and parentheses: fields start after the last ')'.
  const size_t close = all.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream f(all.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string x; f >> x;) fields.push_back(x);
  // Field 3 (state) is fields[0]; utime is field 14, stime 15.
  if (fields.size() < 13) return -1;
  const double ticks = std::stod(fields[11]) + std::stod(fields[12]);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int thread_count(pid_t pid) {
  std::ifstream in(proc_path(pid, "status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

bool eventually(const std::function<bool()>& cond, Duration within, Duration every) {
  const Time deadline = now() + within;
  for (;;) {
    if (cond()) return true;
    if (now() >= deadline) return false;
    sleep_for(every);  // polling state nothing announces, with a bound
  }
}

HttpReply http_raw(const net::SocketAddress& addr, const std::string& request, Duration within) {
  HttpReply r;
  const Time deadline = now() + within;
  auto c = net::Conn::dial(addr, deadline);
  if (!c) {
    r.error = "connect: " + c.error().message();
    return r;
  }
  c->set_deadline(deadline);
  // A server may answer and close before taking the whole request (a 431 for headers
  // that never end): the write then fails, and the answer is still there to read.
  if (auto w = c->write_all(std::as_bytes(std::span(request))); w.error) {
    r.error = "write: " + w.error.message();
  }
  std::string all;
  std::vector<std::byte> buf(16384);
  for (;;) {
    auto x = c->read(buf);
    if (x.error) {
      if (r.error.empty()) r.error = "read: " + x.error.message();
      break;
    }
    if (x.bytes == 0) break;
    all.append(reinterpret_cast<const char*>(buf.data()), x.bytes);
  }
  const size_t split = all.find("\r\n\r\n");
  if (all.rfind("HTTP/1.1 ", 0) != 0 || split == std::string::npos) {
    if (r.error.empty()) r.error = "not an HTTP answer: " + all.substr(0, 200);
    return r;
  }
  r.status = std::atoi(all.c_str() + 9);
  r.head = all.substr(0, split);
  r.body = all.substr(split + 4);
  return r;
}

HttpReply http_get(const net::SocketAddress& addr, const std::string& path, Duration within) {
  return http_raw(addr, "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n", within);
}

std::optional<double> metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

}  // namespace parkway::observe
