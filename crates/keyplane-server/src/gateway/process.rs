//! The processes a gateway session runs: a terminal program on a fresh pseudo-terminal, or a
//! log program on pipes, each the leader of its own session and process group, started from
//! the argv the registry expanded (never through a shell string) with a small allowlisted
//! environment (the server's own — `KEYPLANE_*`, the master key — never reaches them), as
//! the session user (see `session_user`): its uid and gid, no supplementary groups (std's
//! `uid` clears them when the server is root), `no_new_privs` (no setuid program can raise
//! them again), `/` as the working directory and its own `HOME`, `USER` and `LOGNAME`. The
//! pseudo-terminal's device is handed to that user, so that programs which reopen it by name
//! (`tty`, `script`, `ssh`) work.
//!
//! Ending a session signals every process of that session: SIGHUP to the process group and to
//! every process whose session id is the leader's (an interactive shell puts its jobs in
//! process groups of their own), a grace period for the leader to exit, then SIGKILL the same
//! way, and the leader is reaped. A guard that is dropped without that (a panic, a runtime
//! shutting down) sends SIGKILL on drop and leaves the reaping to tokio.

use std::process::Stdio;
use std::time::Duration;

use rustix::process::{kill_process, kill_process_group, Pid, Signal};

pub use super::session_user::SessionUser;

/// How long the leader has to exit after SIGHUP before everything left gets SIGKILL.
const HANGUP_GRACE: Duration = Duration::from_secs(2);

/// Environment variables passed from the server to session programs when set; everything
/// else is dropped.
const INHERITED_ENVIRONMENT: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "TZ",
    "KUBECONFIG",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
];
/// `PATH` when the server has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The terminal type announced to terminal programs (xterm.js and most clients speak it).
const TERMINAL_TYPE: &str = "xterm-256color";

/// Why a session program could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("the command is empty")]
    EmptyCommand,
    #[error("opening a pseudo-terminal failed: {0}")]
    PseudoTerminal(#[from] pty_process::Error),
    #[error("starting the command failed: {0}")]
    Start(#[from] std::io::Error),
    #[error("the started command has no process id")]
    NoProcessId,
}

/// The allowlisted environment, with `TERM` and a UTF-8 `LANG` when the server sets none, and
/// the session user's `HOME`, `USER` and `LOGNAME` when there is one.
fn environment(terminal: bool, user: Option<&SessionUser>) -> Vec<(String, String)> {
    let replaced: &[&str] = if user.is_some() {
        &["HOME", "USER", "LOGNAME"]
    } else {
        &[]
    };
    let mut variables: Vec<(String, String)> = INHERITED_ENVIRONMENT
        .iter()
        .filter(|name| !replaced.contains(name))
        .filter_map(|name| {
            std::env::var(name)
                .ok()
                .map(|value| ((*name).to_owned(), value))
        })
        .collect();
    if !variables.iter().any(|(name, _)| name == "PATH") {
        variables.push(("PATH".to_owned(), DEFAULT_PATH.to_owned()));
    }
    if !variables.iter().any(|(name, _)| name == "LANG") {
        variables.push(("LANG".to_owned(), "C.UTF-8".to_owned()));
    }
    if terminal {
        variables.push(("TERM".to_owned(), TERMINAL_TYPE.to_owned()));
    }
    if let Some(user) = user {
        let home = user
            .home
            .as_ref()
            .map_or_else(|| "/".to_owned(), |home| home.display().to_string());
        variables.push(("HOME".to_owned(), home));
        if let Some(name) = &user.name {
            variables.push(("USER".to_owned(), name.clone()));
            variables.push(("LOGNAME".to_owned(), name.clone()));
        }
    }
    variables
}

/// Sets `no_new_privs` in the child, after fork and before exec.
fn no_new_privileges() -> std::io::Result<()> {
    rustix::thread::set_no_new_privs(true).map_err(std::io::Error::from)
}

/// A running session leader; see the module documentation for how it ends.
#[derive(Debug)]
pub struct SessionLeader {
    child: tokio::process::Child,
    process_id: i32,
    reaped: bool,
}

/// A terminal program on its pseudo-terminal.
pub struct TerminalProcess {
    pub leader: SessionLeader,
    pub terminal: pty_process::Pty,
}

/// A log program with its output pipes.
pub struct LogProcess {
    pub leader: SessionLeader,
    pub stdout: tokio::process::ChildStdout,
    pub stderr: tokio::process::ChildStderr,
}

/// Starts `command` on a new pseudo-terminal of `columns` × `rows`, as the leader of a new
/// session whose controlling terminal it is.
pub fn spawn_terminal(
    command: &[String],
    user: Option<&SessionUser>,
    columns: u16,
    rows: u16,
) -> Result<TerminalProcess, SpawnError> {
    let (program, arguments) = command.split_first().ok_or(SpawnError::EmptyCommand)?;
    let (terminal, secondary) = pty_process::open()?;
    terminal.resize(pty_process::Size::new(rows, columns))?;
    let mut builder = pty_process::Command::new(program)
        .args(arguments)
        .env_clear()
        .envs(environment(true, user))
        .kill_on_drop(true);
    if let Some(user) = user {
        rustix::fs::fchown(
            &secondary,
            Some(rustix::fs::Uid::from_raw(user.uid)),
            Some(rustix::fs::Gid::from_raw(user.gid)),
        )
        .map_err(std::io::Error::from)?;
        builder = builder.uid(user.uid).gid(user.gid).current_dir("/");
    }
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) is a raw system call, async-signal-safe, and
    // touches no memory of the parent.
    let builder = unsafe { builder.pre_exec(no_new_privileges) };
    let child = builder.spawn(secondary)?;
    let process_id = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .ok_or(SpawnError::NoProcessId)?;
    Ok(TerminalProcess {
        leader: SessionLeader {
            child,
            process_id,
            reaped: false,
        },
        terminal,
    })
}

/// Starts `command` with standard input from /dev/null and its standard output and error
/// piped, as the leader of a new session (so that its descendants can be found and ended).
pub fn spawn_log(command: &[String], user: Option<&SessionUser>) -> Result<LogProcess, SpawnError> {
    let (program, arguments) = command.split_first().ok_or(SpawnError::EmptyCommand)?;
    let mut builder = tokio::process::Command::new(program);
    builder
        .args(arguments)
        .env_clear()
        .envs(environment(false, user))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(user) = user {
        builder.uid(user.uid).gid(user.gid).current_dir("/");
    }
    // SAFETY: setsid() and prctl() are async-signal-safe and touch no memory of the parent.
    unsafe {
        builder.pre_exec(|| {
            rustix::process::setsid().map_err(std::io::Error::from)?;
            no_new_privileges()
        });
    }
    let mut child = builder.spawn()?;
    let process_id = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .ok_or(SpawnError::NoProcessId)?;
    let stdout = child.stdout.take().ok_or(SpawnError::NoProcessId)?;
    let stderr = child.stderr.take().ok_or(SpawnError::NoProcessId)?;
    Ok(LogProcess {
        leader: SessionLeader {
            child,
            process_id,
            reaped: false,
        },
        stdout,
        stderr,
    })
}

/// The processes whose session id is `leader` (Linux `/proc`; elsewhere none are found and
/// the process group alone is signalled).
fn session_members(leader: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&process_id| {
            std::fs::read_to_string(format!("/proc/{process_id}/stat"))
                .ok()
                .and_then(|stat| {
                    // After the command name in parentheses: state ppid pgrp session …
                    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
                    fields.get(3)?.parse::<i32>().ok()
                })
                == Some(leader)
        })
        .collect()
}

/// Sends `signal` to the process group led by `leader` and to every process of its session.
fn signal_session(leader: i32, signal: Signal) {
    let Some(group) = Pid::from_raw(leader) else {
        return;
    };
    let _ = kill_process_group(group, signal);
    for member in session_members(leader) {
        if let Some(process) = Pid::from_raw(member) {
            let _ = kill_process(process, signal);
        }
    }
}

impl SessionLeader {
    /// Waits for the leader to exit by itself, reaping it; its exit code, if it had one.
    /// Cancel-safe.
    pub async fn wait(&mut self) -> std::io::Result<Option<i32>> {
        let status = self.child.wait().await?;
        self.reaped = true;
        Ok(status.code())
    }

    /// Ends the session: SIGHUP to all of it, up to [`HANGUP_GRACE`] for the leader to exit,
    /// SIGKILL to whatever remains, and the leader reaped.
    pub async fn terminate(mut self) {
        if !self.reaped {
            signal_session(self.process_id, Signal::HUP);
            if tokio::time::timeout(HANGUP_GRACE, self.child.wait())
                .await
                .is_err()
            {
                signal_session(self.process_id, Signal::KILL);
            }
        }
        // Descendants that ignored the hangup, or outlived a leader that exited by itself.
        signal_session(self.process_id, Signal::KILL);
        if !self.reaped {
            let _ = self.child.wait().await;
            self.reaped = true;
        }
    }
}

impl Drop for SessionLeader {
    fn drop(&mut self) {
        if !self.reaped {
            signal_session(self.process_id, Signal::KILL);
        }
    }
}
