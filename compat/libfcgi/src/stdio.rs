//! The stdio layer of fcgi_stdio.h: `FCGI_Accept` and an `FCGI_*` twin of
//! every stdio function. An `FCGI_FILE` is a C stdio stream or a request
//! stream; each function does the stdio thing on the one, the `FCGX_*`
//! thing on the other. Which C `FILE` an `FCGI_FILE` stands for is one
//! rule, in printf.c (`smisk_fcgi_stdio_of`): its own, or for the three
//! standard ones while no request stream is attached, the process's own
//! stdin / stdout / stderr (libfcgi drops that output instead).
//!
//! `FCGI_Accept` in a process started as CGI (fd 0 not a listening
//! socket): the first call returns 0 with the real stdio and environment,
//! the next -1, so a program written for FastCGI serves one request as a
//! CGI program. As FastCGI: `environ` is the request's params (getenv
//! works) until `FCGI_Finish`, which sets it to NULL, as libfcgi does.

use crate::abi::{smisk_fcgi_sf, smisk_fcgi_stdio_of, FCGX_Stream, EOF, FCGI_FILE};
use crate::slot::{FCGX_Accept, FCGX_Finish, FCGX_IsCGI};
use crate::stream::*;
use libc::{c_char, c_int, c_long, c_void, size_t, FILE};
use std::sync::atomic::{AtomicBool, Ordering};

extern "C" {
    static mut environ: *mut *mut c_char;
    static mut stdin: *mut FILE;
    static mut stdout: *mut FILE;
    static mut stderr: *mut FILE;
}

static ACCEPT_CALLED: AtomicBool = AtomicBool::new(false);
static IS_CGI: AtomicBool = AtomicBool::new(false);

/// The three standard FCGI_FILEs.
unsafe fn standard(i: usize) -> *mut FCGI_FILE {
    smisk_fcgi_sf().add(i)
}

unsafe fn is_standard(fp: *mut FCGI_FILE) -> bool {
    (0..3).any(|i| standard(i) == fp)
}

enum Target {
    File(*mut FILE),
    Fcgx(*mut FCGX_Stream),
    Closed,
}

unsafe fn target(fp: *mut FCGI_FILE) -> Target {
    if fp.is_null() {
        return Target::Closed;
    }
    let file = smisk_fcgi_stdio_of(fp);
    if !file.is_null() {
        return Target::File(file);
    }
    match (*fp).fcgx_stream {
        s if !s.is_null() => Target::Fcgx(s),
        _ => Target::Closed,
    }
}

/// A heap FCGI_FILE for a C stream (malloc'd, as libfcgi's: freed by
/// `FCGI_fclose` / `FCGI_pclose`).
unsafe fn wrap(file: *mut FILE) -> *mut FCGI_FILE {
    if file.is_null() {
        return std::ptr::null_mut();
    }
    let fp = libc::malloc(std::mem::size_of::<FCGI_FILE>()).cast::<FCGI_FILE>();
    if fp.is_null() {
        libc::fclose(file);
        return std::ptr::null_mut();
    }
    fp.write(FCGI_FILE {
        stdio_stream: file,
        fcgx_stream: std::ptr::null_mut(),
    });
    fp
}

unsafe fn release(fp: *mut FCGI_FILE) {
    if !is_standard(fp) {
        libc::free(fp.cast());
    }
}

extern "C" fn finish_at_exit() {
    FCGI_Finish();
}

/// `FCGI_Accept`.
#[no_mangle]
pub extern "C" fn FCGI_Accept() -> c_int {
    crate::guard(EOF, || unsafe {
        if !ACCEPT_CALLED.swap(true, Ordering::SeqCst) {
            IS_CGI.store(FCGX_IsCGI() != 0, Ordering::SeqCst);
            libc::atexit(finish_at_exit);
        } else if IS_CGI.load(Ordering::SeqCst) {
            return EOF;
        }
        if IS_CGI.load(Ordering::SeqCst) {
            for (i, f) in [stdin, stdout, stderr].into_iter().enumerate() {
                let fp = &mut *standard(i);
                fp.stdio_stream = f;
                fp.fcgx_stream = std::ptr::null_mut();
            }
            return 0;
        }
        let mut streams = [std::ptr::null_mut::<FCGX_Stream>(); 3];
        let mut envp: *mut *mut c_char = std::ptr::null_mut();
        let [a, b, c] = &mut streams;
        let rc = FCGX_Accept(a, b, c, &mut envp);
        if rc < 0 {
            return rc;
        }
        for (i, s) in streams.into_iter().enumerate() {
            let fp = &mut *standard(i);
            fp.stdio_stream = std::ptr::null_mut();
            fp.fcgx_stream = s;
        }
        environ = envp;
        0
    })
}

/// `FCGI_Finish` (also run at exit once `FCGI_Accept` was called).
#[no_mangle]
pub extern "C" fn FCGI_Finish() {
    crate::guard((), || unsafe {
        if !ACCEPT_CALLED.load(Ordering::SeqCst) || IS_CGI.load(Ordering::SeqCst) {
            return;
        }
        FCGX_Finish();
        for i in 0..3 {
            (*standard(i)).fcgx_stream = std::ptr::null_mut();
        }
        environ = std::ptr::null_mut();
    })
}

/// `FCGI_StartFilterData`: FCGI_stdin goes on with the FCGI_DATA stream.
#[no_mangle]
pub unsafe extern "C" fn FCGI_StartFilterData() -> c_int {
    match target(standard(0)) {
        Target::Fcgx(s) => FCGX_StartFilterData(s),
        _ => -1,
    }
}

/// `FCGI_SetExitStatus`.
#[no_mangle]
pub unsafe extern "C" fn FCGI_SetExitStatus(status: c_int) {
    if let Target::Fcgx(s) = target(standard(0)) {
        FCGX_SetExitStatus(status, s);
    }
}

/// `FCGI_perror`: "str: message\n" on FCGI_stderr, like perror(3).
#[no_mangle]
pub unsafe extern "C" fn FCGI_perror(str: *const c_char) {
    let msg = std::io::Error::last_os_error();
    let text =
        match std::ffi::CStr::from_ptr(if str.is_null() { c"".as_ptr() } else { str }).to_bytes() {
            b"" => format!("{msg}\n"),
            s => format!("{}: {msg}\n", String::from_utf8_lossy(s)),
        };
    let text = std::ffi::CString::new(text.replace('\0', "")).unwrap_or_default();
    FCGI_fputs(text.as_ptr(), standard(2));
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fopen(path: *const c_char, mode: *const c_char) -> *mut FCGI_FILE {
    if path.is_null() || mode.is_null() {
        return std::ptr::null_mut();
    }
    wrap(libc::fopen(path, mode))
}

/// `FCGI_fclose`: closes the stream the FCGI_FILE holds; a heap FCGI_FILE
/// is freed (the standard three are kept, empty).
#[no_mangle]
pub unsafe extern "C" fn FCGI_fclose(fp: *mut FCGI_FILE) -> c_int {
    let Some(f) = fp.as_mut() else {
        return EOF;
    };
    let mut n = EOF;
    if !f.stdio_stream.is_null() {
        n = libc::fclose(f.stdio_stream);
        f.stdio_stream = std::ptr::null_mut();
    } else if !f.fcgx_stream.is_null() {
        n = FCGX_FClose(f.fcgx_stream);
        f.fcgx_stream = std::ptr::null_mut();
    }
    release(fp);
    n
}

/// `FCGI_fflush`; NULL flushes every C stream.
#[no_mangle]
pub unsafe extern "C" fn FCGI_fflush(fp: *mut FCGI_FILE) -> c_int {
    if fp.is_null() {
        return libc::fflush(std::ptr::null_mut());
    }
    match target(fp) {
        Target::File(f) => libc::fflush(f),
        Target::Fcgx(s) => FCGX_FFlush(s),
        Target::Closed => EOF,
    }
}

/// `FCGI_freopen`: a request stream is closed and replaced by the file.
#[no_mangle]
pub unsafe extern "C" fn FCGI_freopen(
    path: *const c_char,
    mode: *const c_char,
    fp: *mut FCGI_FILE,
) -> *mut FCGI_FILE {
    let Some(f) = fp.as_mut() else {
        return std::ptr::null_mut();
    };
    if path.is_null() || mode.is_null() {
        return std::ptr::null_mut();
    }
    if !f.stdio_stream.is_null() {
        if libc::freopen(path, mode, f.stdio_stream).is_null() {
            return std::ptr::null_mut();
        }
        return fp;
    }
    if !f.fcgx_stream.is_null() {
        FCGX_FClose(f.fcgx_stream);
        let file = libc::fopen(path, mode);
        if file.is_null() {
            return std::ptr::null_mut();
        }
        f.stdio_stream = file;
        f.fcgx_stream = std::ptr::null_mut();
        return fp;
    }
    std::ptr::null_mut()
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_setvbuf(
    fp: *mut FCGI_FILE,
    buf: *mut c_char,
    bufmode: c_int,
    size: size_t,
) -> c_int {
    match target(fp) {
        Target::File(f) => libc::setvbuf(f, buf, bufmode, size),
        _ => -1,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_setbuf(fp: *mut FCGI_FILE, buf: *mut c_char) {
    if let Target::File(f) = target(fp) {
        libc::setbuf(f, buf);
    }
}

/// A request stream cannot seek: -1 and ESPIPE (as libfcgi).
fn no_seek() -> c_int {
    crate::set_errno(libc::ESPIPE);
    -1
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fseek(fp: *mut FCGI_FILE, offset: c_long, whence: c_int) -> c_int {
    match target(fp) {
        Target::File(f) => libc::fseek(f, offset, whence),
        _ => no_seek(),
    }
}

/// `FCGI_ftell`: an int, as libfcgi declares it.
#[no_mangle]
pub unsafe extern "C" fn FCGI_ftell(fp: *mut FCGI_FILE) -> c_int {
    match target(fp) {
        Target::File(f) => libc::ftell(f) as c_int,
        _ => no_seek(),
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_rewind(fp: *mut FCGI_FILE) {
    match target(fp) {
        Target::File(f) => libc::rewind(f),
        _ => {
            no_seek();
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fgetpos(fp: *mut FCGI_FILE, pos: *mut libc::fpos_t) -> c_int {
    match target(fp) {
        Target::File(f) if !pos.is_null() => libc::fgetpos(f, pos),
        _ => no_seek(),
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fsetpos(fp: *mut FCGI_FILE, pos: *const libc::fpos_t) -> c_int {
    match target(fp) {
        Target::File(f) if !pos.is_null() => libc::fsetpos(f, pos),
        _ => no_seek(),
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fgetc(fp: *mut FCGI_FILE) -> c_int {
    match target(fp) {
        Target::File(f) => libc::fgetc(f),
        Target::Fcgx(s) => FCGX_GetChar(s),
        Target::Closed => EOF,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_getchar() -> c_int {
    FCGI_fgetc(standard(0))
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_ungetc(c: c_int, fp: *mut FCGI_FILE) -> c_int {
    match target(fp) {
        Target::File(f) => libc::ungetc(c, f),
        Target::Fcgx(s) => FCGX_UnGetChar(c, s),
        Target::Closed => EOF,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fgets(
    str: *mut c_char,
    size: c_int,
    fp: *mut FCGI_FILE,
) -> *mut c_char {
    match target(fp) {
        Target::File(f) if !str.is_null() && size > 0 => libc::fgets(str, size, f),
        Target::Fcgx(s) => FCGX_GetLine(str, size, s),
        _ => std::ptr::null_mut(),
    }
}

/// `FCGI_gets`: a line without its '\n'. Unbounded, like gets(3): the
/// function cannot know the size of `str` (fcgi_stdio.h says so).
#[no_mangle]
pub unsafe extern "C" fn FCGI_gets(str: *mut c_char) -> *mut c_char {
    if str.is_null() {
        return std::ptr::null_mut();
    }
    let mut p = 0usize;
    // Ends at '\n' or the end of the stream.
    loop {
        let c = FCGI_getchar();
        if c == EOF {
            if p == 0 {
                return std::ptr::null_mut();
            }
            break;
        }
        if c == c_int::from(b'\n') {
            break;
        }
        *str.add(p) = c as c_char;
        p += 1;
    }
    *str.add(p) = 0;
    str
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fputc(c: c_int, fp: *mut FCGI_FILE) -> c_int {
    match target(fp) {
        Target::File(f) => libc::fputc(c, f),
        Target::Fcgx(s) => FCGX_PutChar(c, s),
        Target::Closed => EOF,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_putchar(c: c_int) -> c_int {
    FCGI_fputc(c, standard(1))
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fputs(str: *const c_char, fp: *mut FCGI_FILE) -> c_int {
    if str.is_null() {
        return EOF;
    }
    match target(fp) {
        Target::File(f) => libc::fputs(str, f),
        Target::Fcgx(s) => FCGX_PutS(str, s),
        Target::Closed => EOF,
    }
}

/// `FCGI_puts`: the string and a newline on FCGI_stdout.
#[no_mangle]
pub unsafe extern "C" fn FCGI_puts(str: *const c_char) -> c_int {
    let n = FCGI_fputs(str, standard(1));
    if n < 0 || FCGI_fputc(c_int::from(b'\n'), standard(1)) == EOF {
        return EOF;
    }
    n.saturating_add(1)
}

/// Moves `size * nmemb` bytes through `step` (at most INT_MAX at a time);
/// whole items done.
unsafe fn transfer(
    size: size_t,
    nmemb: size_t,
    mut step: impl FnMut(usize, c_int) -> c_int,
) -> size_t {
    let Some(total) = size.checked_mul(nmemb) else {
        return 0;
    };
    if total == 0 {
        return 0;
    }
    let mut done = 0usize;
    while done < total {
        let chunk = (total - done).min(c_int::MAX as usize) as c_int;
        let n = step(done, chunk);
        if n <= 0 {
            break;
        }
        done += n as usize;
        if n < chunk {
            break;
        }
    }
    done / size
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fread(
    ptr: *mut c_void,
    size: size_t,
    nmemb: size_t,
    fp: *mut FCGI_FILE,
) -> size_t {
    if ptr.is_null() {
        return 0;
    }
    match target(fp) {
        Target::File(f) => libc::fread(ptr, size, nmemb, f),
        Target::Fcgx(s) => transfer(size, nmemb, |at, n| {
            FCGX_GetStr(ptr.cast::<c_char>().add(at), n, s)
        }),
        Target::Closed => 0,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fwrite(
    ptr: *mut c_void,
    size: size_t,
    nmemb: size_t,
    fp: *mut FCGI_FILE,
) -> size_t {
    if ptr.is_null() {
        return 0;
    }
    match target(fp) {
        Target::File(f) => libc::fwrite(ptr, size, nmemb, f),
        Target::Fcgx(s) => transfer(size, nmemb, |at, n| {
            FCGX_PutStr(ptr.cast::<c_char>().add(at), n, s)
        }),
        Target::Closed => 0,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_feof(fp: *mut FCGI_FILE) -> c_int {
    match target(fp) {
        Target::File(f) => libc::feof(f),
        Target::Fcgx(s) => c_int::from(FCGX_HasSeenEOF(s) != 0),
        Target::Closed => 0,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_ferror(fp: *mut FCGI_FILE) -> c_int {
    match target(fp) {
        Target::File(f) => libc::ferror(f),
        Target::Fcgx(s) => c_int::from(FCGX_GetError(s) != 0),
        Target::Closed => 0,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_clearerr(fp: *mut FCGI_FILE) {
    match target(fp) {
        Target::File(f) => libc::clearerr(f),
        Target::Fcgx(s) => FCGX_ClearError(s),
        Target::Closed => {}
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_tmpfile() -> *mut FCGI_FILE {
    wrap(libc::tmpfile())
}

/// `FCGI_fileno`: -1 for a request stream (it has no descriptor).
#[no_mangle]
pub unsafe extern "C" fn FCGI_fileno(fp: *mut FCGI_FILE) -> c_int {
    match target(fp) {
        Target::File(f) => libc::fileno(f),
        _ => -1,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_fdopen(fd: c_int, mode: *const c_char) -> *mut FCGI_FILE {
    if mode.is_null() {
        return std::ptr::null_mut();
    }
    wrap(libc::fdopen(fd, mode))
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_popen(cmd: *const c_char, kind: *const c_char) -> *mut FCGI_FILE {
    if cmd.is_null() || kind.is_null() {
        return std::ptr::null_mut();
    }
    let file = libc::popen(cmd, kind);
    if file.is_null() {
        return std::ptr::null_mut();
    }
    let fp = libc::malloc(std::mem::size_of::<FCGI_FILE>()).cast::<FCGI_FILE>();
    if fp.is_null() {
        libc::pclose(file);
        return std::ptr::null_mut();
    }
    fp.write(FCGI_FILE {
        stdio_stream: file,
        fcgx_stream: std::ptr::null_mut(),
    });
    fp
}

#[no_mangle]
pub unsafe extern "C" fn FCGI_pclose(fp: *mut FCGI_FILE) -> c_int {
    let Some(f) = fp.as_mut() else {
        return -1;
    };
    let mut n = -1;
    if !f.stdio_stream.is_null() {
        n = libc::pclose(f.stdio_stream);
        f.stdio_stream = std::ptr::null_mut();
    }
    release(fp);
    n
}
