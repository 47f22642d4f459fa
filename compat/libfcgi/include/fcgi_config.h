/*
 * fcgi_config.h: what libfcgi's headers and programs test about the
 * platform (Linux with glibc). Written for smisk's drop-in libfcgi; the
 * macros are the ones libfcgi 2.4's configure defines there.
 */
#ifndef SMISK_FCGI_CONFIG_H
#define SMISK_FCGI_CONFIG_H

#define HAVE_ARPA_INET_H 1
#define HAVE_DLFCN_H 1
#define HAVE_FILENO_PROTO 1
/* fpos_t is in <stdio.h>: fcgi_stdio.h declares FCGI_fgetpos/fsetpos. */
#define HAVE_FPOS 1
#define HAVE_INTTYPES_H 1
#define HAVE_LIMITS_H 1
#define HAVE_NETDB_H 1
#define HAVE_NETINET_IN_H 1
#define HAVE_STDINT_H 1
#define HAVE_STDIO_H 1
#define HAVE_STDLIB_H 1
/* std::streambuf has char_type (libfcgi++'s fcgio.h tests it). */
#define HAVE_STREAMBUF_CHAR_TYPE 1
#define HAVE_STRERROR 1
#define HAVE_STRINGS_H 1
#define HAVE_STRING_H 1
#define HAVE_SYS_PARAM_H 1
#define HAVE_SYS_SOCKET_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_SYS_TIME_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_UNISTD_H 1
#define STDC_HEADERS 1

#define PACKAGE "fcgi"
#define PACKAGE_NAME "fcgi"
#define PACKAGE_TARNAME "fcgi"
#define PACKAGE_VERSION "2.4.2"
#define PACKAGE_STRING "fcgi 2.4.2"
#define PACKAGE_BUGREPORT ""
#define PACKAGE_URL ""
#define VERSION "2.4.2"

#endif /* SMISK_FCGI_CONFIG_H */
