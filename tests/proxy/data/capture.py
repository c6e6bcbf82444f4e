#!/usr/bin/env python3
"""Re-creates the real-peer test data of this folder (run it as root on Debian 12 with
openssl, curl, haproxy and nginx installed; it binds loopback ports only, port 0).

  tests/proxy/data/capture.py            rewrite every file
  tests/proxy/data/capture.py hello      only the ClientHellos (hello_*.hex)
  tests/proxy/data/capture.py proxy      only the PROXY headers (proxy_*.hex, parkway_*.hex,
                                         interop_receivers.txt)

ClientHellos: what `openssl s_client` and `curl --resolve` send to a loopback socket that
answers nothing (hello_*.hex).

PROXY protocol, senders: what HAProxy (send-proxy, send-proxy-v2 with and without TLVs
and CRC32c, its LOCAL health checks) and nginx (stream `proxy_protocol on`) write before a
client's bytes, the client connecting from 127.0.0.2 or ::1 (proxy_*.hex).

PROXY protocol, receivers: the headers parkway's encoders write (parkway_*.hex, which
proxy_protocol_test.cpp checks the encoders still write byte for byte) sent to HAProxy
(`accept-proxy`, answering the addresses it took) and to nginx (stream `listen ...
proxy_protocol`, answering $proxy_protocol_addr ...); their answers are in
interop_receivers.txt, which the test compares with the parsed headers.

A .hex file: "# key: value" lines (description, command, source, destination, payload),
then the bytes as hex.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def write_hex(name, data, meta):
    with open(os.path.join(HERE, name), "w") as f:
        for key, value in meta:
            f.write(f"# {key}: {value}\n")
        for i in range(0, len(data), 32):
            f.write(" ".join(f"{b:02x}" for b in data[i:i + 32]) + "\n")
    print(f"{name}: {len(data)} bytes")


def listener(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen(16)
    return s


def read_all(conn, idle=1.0, total=5.0):
    """Reads until the peer stops sending for `idle` seconds or closes."""
    conn.settimeout(idle)
    data = b""
    deadline = time.time() + total
    while time.time() < deadline:
        try:
            chunk = conn.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:  # a health check resets after its header
            break
        if not chunk:
            break
        data += chunk
    return data


def wait_port(host, port, family=socket.AF_INET):
    for _ in range(100):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.connect((host, port))
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port}")


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ---- ClientHellos ----------------------------------------------------------------------------

def capture_hello(name, description, argv_for_port):
    srv = listener()
    port = srv.getsockname()[1]
    argv = argv_for_port(port)
    client = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    srv.settimeout(5)
    conn, _ = srv.accept()
    data = read_all(conn)
    conn.close()
    srv.close()
    client.kill()
    client.wait()
    shown = " ".join(a if "PORT" not in a else a for a in argv).replace(str(port), "PORT")
    write_hex(name, data, [("description", description), ("command", shown)])


def hellos():
    alpn = ",".join(f"protocol-number-{i:03d}" for i in range(40))
    cases = [
        ("hello_openssl_sni.hex", "openssl s_client, TLS 1.3, SNI api.example.com",
         lambda p: ["openssl", "s_client", "-connect", f"127.0.0.1:{p}", "-servername",
                    "api.example.com"]),
        ("hello_openssl_mixed_case.hex", "openssl s_client, SNI in mixed case",
         lambda p: ["openssl", "s_client", "-connect", f"127.0.0.1:{p}", "-servername",
                    "MiXeD.Example.COM"]),
        ("hello_openssl_no_sni.hex", "openssl s_client -noservername",
         lambda p: ["openssl", "s_client", "-connect", f"127.0.0.1:{p}", "-noservername"]),
        ("hello_openssl_tls12.hex", "openssl s_client -tls1_2, SNI legacy.example.com",
         lambda p: ["openssl", "s_client", "-connect", f"127.0.0.1:{p}", "-tls1_2",
                    "-servername", "legacy.example.com"]),
        ("hello_openssl_fragmented.hex",
         "openssl s_client -max_send_frag 512 with a long ALPN list: the ClientHello spans "
         "several records, SNI frag.example.com",
         lambda p: ["openssl", "s_client", "-connect", f"127.0.0.1:{p}", "-max_send_frag",
                    "512", "-alpn", alpn, "-servername", "frag.example.com"]),
        ("hello_curl_resolve.hex", "curl --resolve www.example.org (TLS 1.3, ALPN h2)",
         lambda p: ["curl", "-sk", "--max-time", "3", "--resolve",
                    f"www.example.org:{p}:127.0.0.1", f"https://www.example.org:{p}/"]),
        ("hello_curl_tls12.hex", "curl --tls-max 1.2 --resolve legacy.example.org",
         lambda p: ["curl", "-sk", "--max-time", "3", "--tlsv1.2", "--tls-max", "1.2",
                    "--resolve", f"legacy.example.org:{p}:127.0.0.1",
                    f"https://legacy.example.org:{p}/"]),
    ]
    for name, description, argv in cases:
        capture_hello(name, description, argv)


# ---- PROXY protocol senders ------------------------------------------------------------------

HAPROXY_DEFAULTS = """
global
  maxconn 100
defaults
  mode tcp
  timeout connect 2s
  timeout client 5s
  timeout server 5s
"""


def run_daemon(argv):
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def capture_sender(name, description, config_for, family=socket.AF_INET, front="127.0.0.1",
                   client_source="127.0.0.2", daemon="haproxy", tmp=None):
    cap = listener(family, front)
    cap_port = cap.getsockname()[1]
    front_port = free_port(family, front)
    config = config_for(front_port, cap_port)
    path = os.path.join(tmp, f"{name}.conf")
    with open(path, "w") as f:
        f.write(config)
    if daemon == "haproxy":
        proc = run_daemon(["haproxy", "-db", "-f", path])
    else:
        proc = run_daemon(["nginx", "-c", path, "-g", "daemon off; pid " + path + ".pid;"])
    try:
        time.sleep(0.3)
        payload = b"hello from the client\n"
        c = socket.socket(family, socket.SOCK_STREAM)
        c.bind((client_source, 0))
        c.connect((front, front_port))
        source = c.getsockname()
        c.sendall(payload)
        cap.settimeout(5)
        conn, _ = cap.accept()
        data = read_all(conn)
        conn.close()
        c.close()
    finally:
        stop(proc)
        cap.close()
    fmt = (lambda a: f"[{a[0]}]:{a[1]}") if family == socket.AF_INET6 else (
        lambda a: f"{a[0]}:{a[1]}")
    write_hex(name, data, [("description", description),
                           ("source", fmt(source)),
                           ("destination", fmt((front, front_port))),
                           ("payload", payload.decode().strip())])


def capture_health_check(name, description, server_options, tmp):
    cap = listener()
    cap_port = cap.getsockname()[1]
    path = os.path.join(tmp, f"{name}.conf")
    with open(path, "w") as f:
        f.write(HAPROXY_DEFAULTS + f"""
backend be
  server s 127.0.0.1:{cap_port} check inter 200ms {server_options}
listen dummy
  bind 127.0.0.1:{free_port()}
  server s 127.0.0.1:{cap_port}
""")
    proc = run_daemon(["haproxy", "-db", "-f", path])
    try:
        cap.settimeout(5)
        conn, _ = cap.accept()
        data = read_all(conn, idle=0.5)
        conn.close()
    finally:
        stop(proc)
        cap.close()
    write_hex(name, data, [("description", description)])


def senders(tmp):
    def haproxy_cfg(server_options, front="127.0.0.1", extra=""):
        def cfg(front_port, cap_port):
            bind = f"[{front}]" if ":" in front else front
            return HAPROXY_DEFAULTS + f"""
frontend fe
  bind {bind}:{front_port}
{extra}
  default_backend be
backend be
  server s {bind}:{cap_port} {server_options}
"""
        return cfg

    capture_sender("proxy_haproxy_v1_tcp4.hex", "HAProxy send-proxy, IPv4 client",
                   haproxy_cfg("send-proxy"), tmp=tmp)
    capture_sender("proxy_haproxy_v2_tcp4.hex", "HAProxy send-proxy-v2, IPv4 client",
                   haproxy_cfg("send-proxy-v2"), tmp=tmp)
    capture_sender("proxy_haproxy_v2_tlvs.hex",
                   "HAProxy send-proxy-v2 with proxy-v2-options unique-id,crc32c: a "
                   "UNIQUE_ID TLV and a CRC32c TLV that the parser verifies",
                   haproxy_cfg("send-proxy-v2 proxy-v2-options unique-id,crc32c",
                               extra="  unique-id-format %{+X}o%ci:%cp_%fi:%fp_%Ts_%rt:%pid"),
                   tmp=tmp)
    capture_sender("proxy_haproxy_v1_tcp6.hex", "HAProxy send-proxy, IPv6 client",
                   haproxy_cfg("send-proxy", front="::1"), family=socket.AF_INET6,
                   front="::1", client_source="::1", tmp=tmp)
    capture_sender("proxy_haproxy_v2_tcp6.hex", "HAProxy send-proxy-v2, IPv6 client",
                   haproxy_cfg("send-proxy-v2", front="::1"), family=socket.AF_INET6,
                   front="::1", client_source="::1", tmp=tmp)
    capture_health_check("proxy_haproxy_v2_check.hex",
                         "HAProxy health check with send-proxy-v2 check-send-proxy",
                         "send-proxy-v2 check-send-proxy", tmp)
    capture_health_check("proxy_haproxy_v1_check.hex",
                         "HAProxy health check with send-proxy check-send-proxy",
                         "send-proxy check-send-proxy", tmp)

    def nginx_cfg(front_port, cap_port):
        return f"""
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
error_log stderr;
events {{}}
stream {{
  server {{
    listen 127.0.0.1:{front_port};
    proxy_pass 127.0.0.1:{cap_port};
    proxy_protocol on;
  }}
}}
"""
    capture_sender("proxy_nginx_v1_tcp4.hex", "nginx stream proxy_protocol on, IPv4 client",
                   nginx_cfg, daemon="nginx", tmp=tmp)


# ---- PROXY protocol receivers ----------------------------------------------------------------

V2_SIG = bytes([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A])


def v6(text):
    return socket.inet_pton(socket.AF_INET6, text)


def v4(text):
    return socket.inet_pton(socket.AF_INET, text)


# What parkway's encoders write for these connections (proxy_protocol_test.cpp checks it).
ENCODED = [
    ("parkway_v1_tcp4.hex", "encode_proxy_v1(192.0.2.10:51000, 198.51.100.20:443)",
     b"PROXY TCP4 192.0.2.10 198.51.100.20 51000 443\r\n"),
    ("parkway_v1_tcp6.hex", "encode_proxy_v1([2001:db8::10]:51001, [2001:db8::20]:8443)",
     b"PROXY TCP6 2001:db8::10 2001:db8::20 51001 8443\r\n"),
    ("parkway_v1_unknown.hex", "encode_proxy_v1_unknown()", b"PROXY UNKNOWN\r\n"),
    ("parkway_v2_tcp4.hex", "encode_proxy_v2(192.0.2.10:51000, 198.51.100.20:443)",
     V2_SIG + bytes([0x21, 0x11, 0x00, 12]) + v4("192.0.2.10") + v4("198.51.100.20") +
     (51000).to_bytes(2, "big") + (443).to_bytes(2, "big")),
    ("parkway_v2_tcp6.hex", "encode_proxy_v2([2001:db8::10]:51001, [2001:db8::20]:8443)",
     V2_SIG + bytes([0x21, 0x21, 0x00, 36]) + v6("2001:db8::10") + v6("2001:db8::20") +
     (51001).to_bytes(2, "big") + (8443).to_bytes(2, "big")),
    ("parkway_v2_local.hex", "encode_proxy_v2_local()", V2_SIG + bytes([0x20, 0x00, 0, 0])),
]


def ask(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        return read_all(s, idle=1.0)


def receivers(tmp):
    lines = []
    for name, description, data in ENCODED:
        write_hex(name, data, [("description", description)])

    hport = free_port()
    path = os.path.join(tmp, "accept.conf")
    with open(path, "w") as f:
        f.write(HAPROXY_DEFAULTS.replace("mode tcp", "mode http") + f"""
frontend fe
  bind 127.0.0.1:{hport} accept-proxy
  http-request return status 200 content-type text/plain lf-string "%[src] %[src_port] %[dst] %[dst_port]\\n"
""")
    proc = run_daemon(["haproxy", "-db", "-f", path])
    try:
        time.sleep(0.3)
        for name, _, data in ENCODED:
            answer = ask(hport, data + b"GET / HTTP/1.0\r\n\r\n")
            body = answer.split(b"\r\n\r\n", 1)[-1].decode().strip() if answer else "(closed)"
            lines.append(f"haproxy {name} {body}")
    finally:
        stop(proc)

    nport = free_port()
    path = os.path.join(tmp, "nginx-accept.conf")
    with open(path, "w") as f:
        f.write(f"""
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
error_log stderr;
events {{}}
stream {{
  server {{
    listen 127.0.0.1:{nport} proxy_protocol;
    return "$proxy_protocol_addr $proxy_protocol_port $proxy_protocol_server_addr $proxy_protocol_server_port $remote_addr\\n";
  }}
}}
""")
    proc = run_daemon(["nginx", "-c", path, "-g", "daemon off; pid " + path + ".pid;"])
    try:
        time.sleep(0.3)
        for name, _, data in ENCODED:
            answer = ask(nport, data)
            lines.append(f"nginx {name} {answer.decode().strip() or '(closed)'}")
    finally:
        stop(proc)

    with open(os.path.join(HERE, "interop_receivers.txt"), "w") as f:
        f.write("# What HAProxy 2.6 (accept-proxy, answering \"%[src] %[src_port] %[dst] "
                "%[dst_port]\")\n# and nginx 1.22 (stream listen proxy_protocol, answering "
                "\"$proxy_protocol_addr $proxy_protocol_port\n# $proxy_protocol_server_addr "
                "$proxy_protocol_server_port $remote_addr\") took from each header parkway\n"
                "# writes (parkway_*.hex). Written by capture.py.\n")
        for line in lines:
            f.write(line + "\n")
    print("\n".join(lines))


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    tmp = tempfile.mkdtemp()
    try:
        if what in ("all", "hello"):
            hellos()
        if what in ("all", "proxy"):
            senders(tmp)
            receivers(tmp)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
