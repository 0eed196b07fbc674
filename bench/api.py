"""API throughput: GETs of one job per second, against a bare HTTP server.

    python3 bench/api.py [--seconds 5] [--clients 8]

Starts ``kala.py serve`` on a fresh SQLite file with one job, and a bare
``ThreadingHTTPServer`` (HTTP/1.1 keep-alive, one buffered write, TCP_NODELAY)
answering every GET with the very bytes kala.py answers for that job. CLIENTS
keep-alive connections, from two client processes, GET the job for SECONDS
against each server in turn; the figure is answers per second, and the ratio
kala.py / bare is the one the goal is about (>= 70 %).
"""

import argparse
import http.client
import http.server
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server, count_in_threads, cpu_split  # noqa: E402


def client_process(port, path, seconds, connections):
    """Run in a child process: GET ``path`` on ``connections`` keep-alive
    connections until the deadline; print how many answers came back."""
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30)
             for _ in range(connections)]

    def get(slot):
        conns[slot].request("GET", path)
        response = conns[slot].getresponse()
        response.read()
        assert response.status == 200

    print(count_in_threads(connections, seconds, get))


def bare_server(body):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        wbufsize = -1

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


def load(server_pid, port, path, seconds, clients):
    """(answers per second, server CPU seconds per answer) from ``clients``
    connections split over two processes."""
    half = [clients // 2, clients - clients // 2]
    before = sum(cpu_split(server_pid))
    children = [subprocess.Popen([sys.executable, __file__, "--client", str(port), path,
                                  str(seconds), str(n)], stdout=subprocess.PIPE, text=True)
                for n in half if n]
    answers = sum(int(child.communicate()[0]) for child in children)
    return answers / seconds, (sum(cpu_split(server_pid)) - before) / answers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--client", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--bare", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        port, path, seconds, connections = args.client
        return client_process(int(port), path, float(seconds), int(connections))
    if args.bare:
        with open(args.bare, "rb") as file:
            return bare_server(file.read())
    with tempfile.TemporaryDirectory() as tmp:
        kala = Server(os.path.join(tmp, "api.db"))
        job_id = kala.call("POST", "/api/v1/job/", {
            "name": "api-bench", "command": "true", "owner": "bench",
            "schedule": "R/2099-01-01T00:00:00Z/P1D"})["id"]
        path = f"/api/v1/job/{job_id}/"
        kala.conn.request("GET", path)
        body = kala.conn.getresponse().read()
        with open(os.path.join(tmp, "body"), "wb") as file:
            file.write(body)
        bare = subprocess.Popen([sys.executable, __file__, "--bare", os.path.join(tmp, "body")],
                                stdout=subprocess.PIPE, text=True)
        bare_port = int(bare.stdout.readline())
        try:
            ours, our_cpu = load(kala.process.pid, kala.port, path, args.seconds, args.clients)
            base, base_cpu = load(bare.pid, bare_port, path, args.seconds, args.clients)
        finally:
            bare.terminate()
            kala.stop()
    print(f"API: GET one job ({len(body)} bytes), {args.clients} keep-alive clients, "
          f"{args.seconds:g} s each")
    print(f"bare ThreadingHTTPServer {base:8.0f} req/s   server CPU {base_cpu * 1e6:4.0f} us/request")
    print(f"kala.py                  {ours:8.0f} req/s   server CPU {our_cpu * 1e6:4.0f} us/request"
          f"   ratio {ours / base:.2f} (goal >= 0.70)")


if __name__ == "__main__":
    sys.exit(main())
