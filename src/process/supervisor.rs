//! The prefork supervisor: forks the workers after the socket is bound,
//! never serves, replaces workers that die (with back-off for crash loops),
//! and turns SIGTERM/SIGINT/SIGUSR1 into a bounded graceful stop and SIGHUP
//! into a graceful restart.
//!
//! It keeps the listening socket open for its whole life, so connections
//! arriving while no worker accepts wait in the backlog instead of being
//! refused. Workers are tracked by pid and reaped by pid (never
//! `waitpid(-1)`, which would steal the embedding program's own children).

use super::{now_ms, serve, signals, App, ForkPhase, Options, SUPERVISOR};
use crate::fcgi::balance::Table;
use crate::fcgi::Server;
use crate::log::log;
use crate::status::{Error, Result, SMISK_ERR_STOPPED};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

/// Extra time after the drain timeout before workers are killed.
const KILL_GRACE_MS: u64 = 500;
/// Longest the supervisor sleeps without looking at its workers.
const TICK_MS: u64 = 1000;

#[derive(Clone, Copy)]
struct Slot {
    pid: libc::pid_t,
    started: u64,
    /// Consecutive crashes within min_uptime_ms.
    failures: u32,
    respawn_at: u64,
}

struct Retiring {
    pid: libc::pid_t,
    kill_at: u64,
}

/// Delay before the replacement of a worker after `failures` (>= 1)
/// consecutive crashes at start: backoff_ms, doubling, capped.
fn backoff_delay(opts: &Options, failures: u32) -> u64 {
    let shift = failures.saturating_sub(1).min(40);
    opts.backoff_ms
        .saturating_mul(1u64 << shift)
        .min(opts.backoff_max_ms)
}

fn describe(status: libc::c_int) -> String {
    if libc::WIFEXITED(status) {
        format!("exited with status {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("was killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("ended (wait status {status})")
    }
}

/// Non-blocking reap of one pid; Some(status) once it ended.
fn reap(pid: libc::pid_t) -> Option<libc::c_int> {
    let mut status = 0;
    // SAFETY: waitpid on our own child with a valid status pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if r == pid {
        Some(status)
    } else if r < 0 {
        // ECHILD: already reaped (or the embedder's SIGCHLD handling took
        // it); treat it as gone.
        Some(0)
    } else {
        None
    }
}

fn kill(pid: libc::pid_t, sig: libc::c_int) {
    if pid > 0 {
        // SAFETY: kill(2) on a pid we forked and have not reaped yet.
        unsafe { libc::kill(pid, sig) };
    }
}

struct Supervisor<'a> {
    server: &'a mut Server,
    opts: &'a Options,
    app: &'a mut dyn App,
    installed: &'a mut signals::Installed,
    slots: Vec<Slot>,
    retiring: Vec<Retiring>,
    /// The connection counts the workers share to stay fair (see
    /// `fcgi::balance`); None if it could not be mapped.
    table: Option<Table>,
}

pub(super) fn supervise(
    server: &mut Server,
    opts: &Options,
    app: &mut dyn App,
    installed: &mut signals::Installed,
) -> Result<i32> {
    let slot = Slot {
        pid: 0,
        started: 0,
        failures: 0,
        respawn_at: 0,
    };
    let mut sup = Supervisor {
        server,
        opts,
        app,
        installed,
        slots: vec![slot; opts.forks as usize],
        retiring: Vec::new(),
        table: Table::new(opts.forks as usize),
    };
    sup.main_loop()
}

impl Supervisor<'_> {
    fn main_loop(&mut self) -> Result<i32> {
        let wait_set = signals::set_of(&super::RUN_SIGNALS);
        let mut stopping: Option<(i32, u64)> = None;
        loop {
            let now = now_ms();
            if stopping.is_none() {
                for i in 0..self.slots.len() {
                    if self.slots[i].pid == 0 && self.slots[i].respawn_at <= now {
                        self.spawn(i);
                    }
                }
            }
            self.reap_all();
            let now = now_ms();
            if let Some((sig, kill_at)) = stopping {
                let live = self.slots.iter().any(|s| s.pid > 0) || !self.retiring.is_empty();
                if !live {
                    return Ok(sig);
                }
                if now >= kill_at {
                    let n = self.slots.iter().filter(|s| s.pid > 0).count() + self.retiring.len();
                    log(format_args!("drain timeout: killing {n} worker(s)"));
                    for s in &self.slots {
                        kill(s.pid, libc::SIGKILL);
                    }
                    for r in &self.retiring {
                        kill(r.pid, libc::SIGKILL);
                    }
                    // Once: the kills are certain; wait for the deaths.
                    stopping = Some((sig, u64::MAX));
                }
            }
            for r in &mut self.retiring {
                if now >= r.kill_at {
                    log(format_args!(
                        "drain timeout: killing retired worker (pid {})",
                        r.pid
                    ));
                    kill(r.pid, libc::SIGKILL);
                    r.kill_at = u64::MAX;
                }
            }
            let mut wake = now + TICK_MS;
            if stopping.is_none() {
                for s in &self.slots {
                    if s.pid == 0 {
                        wake = wake.min(s.respawn_at.max(now));
                    }
                }
            }
            for r in &self.retiring {
                wake = wake.min(r.kill_at.max(now));
            }
            if let Some((_, kill_at)) = stopping {
                wake = wake.min(kill_at.max(now));
            }
            let wait = wake.saturating_sub(now).max(1);
            let ts = libc::timespec {
                tv_sec: (wait / 1000) as libc::time_t,
                tv_nsec: ((wait % 1000) * 1_000_000) as libc::c_long,
            };
            // SAFETY: valid set and timespec; no siginfo wanted.
            let sig = unsafe { libc::sigtimedwait(&wait_set, std::ptr::null_mut(), &ts) };
            // smisk_run_stop() cannot run here (the supervisor runs no
            // application code), but take() keeps the bits clean.
            let local = signals::stop_signal(signals::take());
            let sig = if sig > 0 { sig } else { local };
            match sig {
                libc::SIGTERM | libc::SIGINT | libc::SIGUSR1 if stopping.is_none() => {
                    log(format_args!(
                        "signal {sig}: stopping {} workers gracefully",
                        self.slots.iter().filter(|s| s.pid > 0).count()
                    ));
                    for s in &self.slots {
                        kill(s.pid, libc::SIGTERM);
                    }
                    for r in &self.retiring {
                        kill(r.pid, libc::SIGTERM);
                    }
                    let kill_at = now_ms() + self.opts.drain_timeout_ms + KILL_GRACE_MS;
                    stopping = Some((sig, kill_at));
                }
                libc::SIGHUP if stopping.is_none() => self.restart(),
                _ => {}
            }
        }
    }

    /// Graceful restart: new workers first, then the old ones drain.
    fn restart(&mut self) {
        log(format_args!("SIGHUP: restarting workers"));
        let kill_at = now_ms() + self.opts.drain_timeout_ms + KILL_GRACE_MS;
        let mut old = Vec::new();
        for i in 0..self.slots.len() {
            let s = &mut self.slots[i];
            if s.pid > 0 {
                old.push(s.pid);
            }
            s.pid = 0;
            s.failures = 0;
            s.respawn_at = 0;
            self.spawn(i);
        }
        for pid in old {
            kill(pid, libc::SIGHUP);
            self.retiring.push(Retiring { pid, kill_at });
        }
    }

    fn reap_all(&mut self) {
        let now = now_ms();
        for i in 0..self.slots.len() {
            let s = self.slots[i];
            if s.pid <= 0 {
                continue;
            }
            let Some(status) = reap(s.pid) else {
                continue;
            };
            let clean = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
            let uptime = now.saturating_sub(s.started);
            if let Some(t) = &self.table {
                t.clear(i);
            }
            let slot = &mut self.slots[i];
            slot.pid = 0;
            if !clean && uptime < self.opts.min_uptime_ms {
                slot.failures = slot.failures.saturating_add(1);
                let delay = backoff_delay(self.opts, slot.failures);
                slot.respawn_at = now + delay;
                log(format_args!(
                    "worker {i} (pid {}) {} {uptime} ms after start; crash {} in a row, \
                     respawning in {delay} ms",
                    s.pid,
                    describe(status),
                    slot.failures
                ));
            } else {
                slot.failures = 0;
                slot.respawn_at = now;
                if !clean {
                    log(format_args!(
                        "worker {i} (pid {}) {}; respawning",
                        s.pid,
                        describe(status)
                    ));
                }
            }
        }
        self.retiring.retain(|r| reap(r.pid).is_none());
        self.publish_running();
    }

    /// Tells the workers how many of them run (their share's divisor).
    fn publish_running(&self) {
        if let Some(t) = &self.table {
            t.set_running(self.slots.iter().filter(|s| s.pid > 0).count());
        }
    }

    fn spawn(&mut self, index: usize) {
        self.app.fork_event(ForkPhase::Before);
        // SAFETY: getpid cannot fail.
        let me = unsafe { libc::getpid() };
        if let Some(t) = &self.table {
            t.clear(index);
        }
        // SAFETY: fork(2). The child only runs `worker_main`, which never
        // returns into the caller's stack frames.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            self.worker_main(index, me);
        }
        self.app.fork_event(ForkPhase::Parent);
        let now = now_ms();
        let slot = &mut self.slots[index];
        if pid < 0 {
            let err = Error::last_os("fork");
            slot.failures = slot.failures.saturating_add(1);
            let delay = self
                .opts
                .backoff_max_ms
                .min(self.opts.backoff_ms << slot.failures.min(20));
            slot.respawn_at = now + delay;
            log(format_args!("{err}; retrying in {delay} ms"));
            return;
        }
        slot.pid = pid;
        slot.started = now;
        self.publish_running();
        log(format_args!("worker {index} started (pid {pid})"));
    }

    /// The body of a forked worker; ends the process.
    fn worker_main(&mut self, index: usize, supervisor: libc::pid_t) -> ! {
        let code = catch_unwind(AssertUnwindSafe(|| {
            signals::take();
            SUPERVISOR.store(supervisor, Ordering::SeqCst);
            // A worker must not outlive its supervisor (it would keep
            // serving code nobody can restart).
            // SAFETY: prctl with plain integer arguments.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
            // SAFETY: getppid cannot fail.
            if unsafe { libc::getppid() } != supervisor {
                return 0;
            }
            self.app.fork_event(ForkPhase::Child);
            self.installed.restore_one(libc::SIGCHLD);
            self.server.reset_after_fork();
            self.server
                .set_balance(self.table.as_ref().map(|t| t.worker(index)));
            match serve(
                self.server,
                self.opts,
                self.app,
                index as u32,
                self.installed,
                true,
            ) {
                Ok(_) => 0,
                Err(e) if e.status == SMISK_ERR_STOPPED => 1,
                Err(e) => {
                    log(format_args!("worker {index}: {e}"));
                    2
                }
            }
        }))
        .unwrap_or(70);
        // SAFETY: flushing C stdio buffers (the application's output), then
        // ending the process without running the parent's exit handlers or
        // destructors, which belong to the supervisor.
        unsafe {
            libc::fflush(std::ptr::null_mut());
            libc::_exit(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let o = Options {
            backoff_ms: 100,
            backoff_max_ms: 1000,
            ..Options::default()
        };
        let d: Vec<u64> = (1..=7).map(|f| backoff_delay(&o, f)).collect();
        assert_eq!(d, [100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(backoff_delay(&o, u32::MAX), 1000);
        let big = Options {
            backoff_ms: 86_400_000,
            backoff_max_ms: 86_400_000,
            ..Options::default()
        };
        assert_eq!(backoff_delay(&big, 60), 86_400_000);
    }

    #[test]
    fn wait_status_descriptions() {
        assert_eq!(describe(0), "exited with status 0");
        assert_eq!(describe(1 << 8), "exited with status 1");
        assert_eq!(describe(9), "was killed by signal 9");
    }
}
