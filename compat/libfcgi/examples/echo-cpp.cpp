// echo-cpp: echo with C++ iostreams over the request's streams, through
// Debian's libfcgi++ (fcgio.h: fcgi_streambuf). FCGX_Init, FCGX_InitRequest
// and FCGX_Accept_r. Written for smisk's drop-in libfcgi to libfcgi's
// API, after libfcgi's echo-cpp example.
//
// fcgiapp.h first: fcgio.h includes "fcgiapp.h" from its own directory,
// and the first one included wins (both use libfcgi's include guard).
#include "fcgiapp.h"
#include "fcgio.h"

#include <cstdlib>
#include <iostream>
#include <string>

static const long MAX_BODY = 1000000;

int main() {
    std::streambuf *cin_orig = std::cin.rdbuf();
    std::streambuf *cout_orig = std::cout.rdbuf();
    std::streambuf *cerr_orig = std::cerr.rdbuf();
    FCGX_Request request;
    int count = 0;

    FCGX_Init();
    FCGX_InitRequest(&request, 0, 0);
    while (FCGX_Accept_r(&request) == 0) {
        fcgi_streambuf cin_buf(request.in);
        fcgi_streambuf cout_buf(request.out);
        fcgi_streambuf cerr_buf(request.err);
        std::cin.rdbuf(&cin_buf);
        std::cout.rdbuf(&cout_buf);
        std::cerr.rdbuf(&cerr_buf);

        const char *cl = FCGX_GetParam("CONTENT_LENGTH", request.envp);
        long len = cl ? std::strtol(cl, 0, 10) : 0;
        std::string body;
        if (len > MAX_BODY) len = MAX_BODY;
        if (len > 0) {
            body.resize(static_cast<size_t>(len));
            std::cin.read(&body[0], len);
            body.resize(static_cast<size_t>(std::cin.gcount()));
        }
        std::cout << "Content-type: text/html\r\n\r\n"
                  << "<title>echo-cpp</title><h1>echo-cpp</h1>\n"
                  << "Request number " << ++count << "<p>\n";
        if (body.empty()) {
            std::cout << "No data from standard input.<p>\n";
        } else {
            std::cout << "Standard input:<br>\n<pre>\n" << body << "\n</pre><p>\n";
        }
        std::cout << "Request environment:<br>\n<pre>\n";
        for (char **e = request.envp; *e; ++e) std::cout << *e << "\n";
        std::cout << "</pre><p>\n";
        std::cout.flush();
        std::cerr << "echo-cpp: " << body.size() << " body bytes\n";
        std::cerr.flush();
        // The stream buffers go out of scope at the end of this pass; the
        // standard streams get their own back first.
        std::cin.rdbuf(cin_orig);
        std::cout.rdbuf(cout_orig);
        std::cerr.rdbuf(cerr_orig);
    }
    return 0;
}
