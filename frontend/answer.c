#include "answer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

int answer_error(int status, long retry_after)
{
    const char *reason, *text;
    switch (status) {
    case 400:
        reason = "Bad Request";
        text = "The request could not be understood.";
        break;
    case 502:
        reason = "Bad Gateway";
        text = "The application gave no valid answer.";
        break;
    case 503:
        reason = "Service Unavailable";
        text = "The service is busy or starting up. Please try again in a few seconds.";
        break;
    default:
        status = 500;
        reason = "Internal Server Error";
        text = "The server is not configured correctly.";
        break;
    }
    char *body = strf("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%d %s</title></head>\n"
                      "<body><h1>%s</h1><p>%s</p></body></html>\n",
                      status, reason, reason, text);
    char *retry = status == 503 && retry_after > 0 ? strf("Retry-After: %ld\r\n", retry_after) : strf("%s", "");
    char *head = body && retry ? strf("Status: %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
                                      "Content-Length: %zu\r\n%sCache-Control: no-store\r\n\r\n",
                                      status, reason, strlen(body), retry)
                               : NULL;
    int r = -1;
    if (head != NULL) {
        r = write_all(1, head, strlen(head), 10000);
        if (r == 0)
            r = write_all(1, body, strlen(body), 10000);
        if (r != 0)
            log_msg("writing the %d answer: %s", status, strerror(errno));
    } else {
        log_msg("out of memory for the %d answer", status);
    }
    free(body);
    free(retry);
    free(head);
    return r;
}
