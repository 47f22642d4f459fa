"""The hello world of smisk.wsgi: any WSGI (PEP 3333) application runs the
same way. Serve it with the runner, as scripts/demo --wsgi does:

    .venv/bin/smisk-wsgi wsgi_hello:application --chdir examples --bind /tmp/hello.sock

or from Python:

    import smisk.core
    from smisk.wsgi import Gateway
    smisk.core.bind("/tmp/hello.sock")
    Gateway(application).run()
"""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello World!\n"]
