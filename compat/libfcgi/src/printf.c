/*
 * The C part of the drop-in libfcgi: what stable Rust cannot define.
 *
 * - The variadic printf functions (FCGX_FPrintF, FCGI_fprintf, FCGI_printf)
 *   and their va_list forms. Formatting is the C library's vsnprintf (every
 *   conversion it knows, no buffer of fixed size): short output is formatted
 *   on the stack, longer output in one heap buffer of the exact size; the
 *   bytes then go through FCGX_PutStr like any other write.
 * - `_fcgi_sF`, the three standard FCGI_FILEs, a data object that programs
 *   reference directly (fcgi_stdio.h's stdin/stdout/stderr macros). An
 *   executable usually gets a copy of it (R_X86_64_COPY) and every reference,
 *   the library's included, must reach that copy: this file is compiled with
 *   -fPIC, so its references go through the GOT, and the Rust code reaches
 *   the array only through smisk_fcgi_sf() below.
 * - smisk_fcgi_stdio_of(): the one rule for which C stdio FILE an FCGI_FILE
 *   stands for.
 *
 * Only the libfcgi names are exported (exports.map); the smisk_fcgi_*
 * helpers stay inside the library.
 */
/* The C stdio names keep their meaning here. */
#define NO_FCGI_DEFINES
#include <fcgi_stdio.h>

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>

/* Formatted output up to this size needs no heap allocation. */
#define SMALL_OUTPUT 1024

FCGI_FILE _fcgi_sF[3];

FCGI_FILE *smisk_fcgi_sf(void);
FILE *smisk_fcgi_stdio_of(FCGI_FILE *fp);

/* The array through the GOT (the executable's copy when it has one). */
FCGI_FILE *smisk_fcgi_sf(void) {
    return _fcgi_sF;
}

/*
 * The C stdio stream fp stands for: its own, or, for the three standard
 * FCGI_FILEs while no request stream is attached (before the first
 * FCGI_Accept, between requests, in CGI mode), the process's own stdin,
 * stdout or stderr. NULL for a request stream, or a closed FCGI_FILE.
 */
FILE *smisk_fcgi_stdio_of(FCGI_FILE *fp) {
    if (fp == NULL) return NULL;
    if (fp->stdio_stream != NULL) return fp->stdio_stream;
    if (fp->fcgx_stream != NULL) return NULL;
    if (fp == &_fcgi_sF[0]) return stdin;
    if (fp == &_fcgi_sF[1]) return stdout;
    if (fp == &_fcgi_sF[2]) return stderr;
    return NULL;
}

int FCGX_VFPrintF(FCGX_Stream *stream, const char *format, va_list arg) {
    char small[SMALL_OUTPUT];
    char *text = small;
    va_list again;
    int len, put;

    if (stream == NULL || format == NULL) return -1;
    va_copy(again, arg);
    len = vsnprintf(small, sizeof small, format, arg);
    if (len < 0) {
        va_end(again);
        return -1;
    }
    if ((size_t)len >= sizeof small) {
        /* len < INT_MAX, so len + 1 cannot overflow. */
        text = malloc((size_t)len + 1);
        if (text == NULL) {
            va_end(again);
            return -1;
        }
        vsnprintf(text, (size_t)len + 1, format, again);
    }
    va_end(again);
    put = FCGX_PutStr(text, len, stream);
    if (text != small) free(text);
    return put;
}

int FCGX_FPrintF(FCGX_Stream *stream, const char *format, ...) {
    va_list ap;
    int n;
    va_start(ap, format);
    n = FCGX_VFPrintF(stream, format, ap);
    va_end(ap);
    return n;
}

int FCGI_vfprintf(FCGI_FILE *fp, const char *format, va_list ap) {
    FILE *file;
    if (fp == NULL || format == NULL) return EOF;
    file = smisk_fcgi_stdio_of(fp);
    if (file != NULL) return vfprintf(file, format, ap);
    if (fp->fcgx_stream != NULL) return FCGX_VFPrintF(fp->fcgx_stream, format, ap);
    return EOF;
}

int FCGI_fprintf(FCGI_FILE *fp, const char *format, ...) {
    va_list ap;
    int n;
    va_start(ap, format);
    n = FCGI_vfprintf(fp, format, ap);
    va_end(ap);
    return n;
}

int FCGI_vprintf(const char *format, va_list ap) {
    return FCGI_vfprintf(FCGI_stdout, format, ap);
}

int FCGI_printf(const char *format, ...) {
    va_list ap;
    int n;
    va_start(ap, format);
    n = FCGI_vfprintf(FCGI_stdout, format, ap);
    va_end(ap);
    return n;
}
