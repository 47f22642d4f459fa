# The example that opens the Smisk 1.0 announcement (2008), unchanged: a
# smisk.core application imported from the top-level package, writing a str
# (encoded with the application's charset, UTF-8 by default).
#
#   spawn-fcgi -n -s /tmp/hello.sock -- .venv/bin/python examples/smisk10_hello.py
#
# It serves the listening socket on fd 0 (spawn-fcgi or a web server hands it
# over), or one request as CGI.
from smisk import Application
class MyApp(Application):
  def service(self):
    self.response.write("Hello World!")

MyApp().run()
