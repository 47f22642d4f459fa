"""The same JSON answer from a plain smisk.core.Application (bench/mvc/run)."""
import json
import sys

import smisk.core


class Hello(smisk.core.Application):
    def service(self):
        name = self.request.get.get("name") or "World"
        body = json.dumps({"message": f"Hello {name}!"}).encode()
        self.response.headers = ["Content-Type: application/json; charset=utf-8", f"Content-Length: {len(body)}"]
        self.response.write(body)


if __name__ == "__main__":
    smisk.core.bind(sys.argv[1])
    Hello().run()
