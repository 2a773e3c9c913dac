//! The unprivileged user and group session programs run as (`--session-user USER[:GROUP]`).
//!
//! A name is looked up in `/etc/passwd` (and a group name in `/etc/group`); a number is taken
//! as it is. Without a group, the user's primary group is used. When the server runs as root
//! and no session user is configured, programs run as `nobody` (uid and gid 65534 when the
//! system has no such user). When the server does not run as root and none is configured,
//! programs run as the server's own user, which can read everything the server can: the
//! server warns about it when it starts.

use std::path::PathBuf;

/// The user that runs when a root server has no `--session-user`.
pub const DEFAULT_SESSION_USER: &str = "nobody";
/// Its ids when the system does not list it.
const NOBODY_ID: u32 = 65534;

/// Who session programs run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub uid: u32,
    pub gid: u32,
    /// The login name (for `USER` and `LOGNAME`), when the user is listed.
    pub name: Option<String>,
    /// Its home directory (for `HOME`), when the user is listed.
    pub home: Option<PathBuf>,
}

/// Why a `--session-user` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionUserError {
    #[error("the session user is empty")]
    Empty,
    #[error("there is no user {0:?} in /etc/passwd")]
    UnknownUser(String),
    #[error("there is no group {0:?} in /etc/group")]
    UnknownGroup(String),
    #[error("the session user may not be root (uid 0) nor run in group 0")]
    Root,
}

/// One line of `/etc/passwd`: name, uid, gid, home.
fn passwd_entry(name: &str) -> Option<(u32, u32, PathBuf)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 7 && fields[0] == name).then(|| {
            Some((
                fields[2].parse().ok()?,
                fields[3].parse().ok()?,
                PathBuf::from(fields[5]),
            ))
        })?
    })
}

/// The name and home of the user with `uid`, if listed.
fn passwd_by_uid(uid: u32) -> Option<(String, u32, PathBuf)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 7 && fields[2].parse::<u32>().ok() == Some(uid)).then(|| {
            Some((
                fields[0].to_owned(),
                fields[3].parse().ok()?,
                PathBuf::from(fields[5]),
            ))
        })?
    })
}

fn group_id(name: &str) -> Option<u32> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 3 && fields[0] == name)
            .then(|| fields[2].parse().ok())
            .flatten()
    })
}

impl SessionUser {
    /// Reads `USER[:GROUP]` (names or numbers).
    pub fn parse(text: &str) -> Result<Self, SessionUserError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SessionUserError::Empty);
        }
        let (user, group) = match text.split_once(':') {
            Some((user, group)) => (user, Some(group)),
            None => (text, None),
        };
        let (uid, primary_gid, name, home) = match user.parse::<u32>() {
            Ok(uid) => match passwd_by_uid(uid) {
                Some((name, gid, home)) => (uid, Some(gid), Some(name), Some(home)),
                None => (uid, None, None, None),
            },
            Err(_) => {
                let (uid, gid, home) = passwd_entry(user)
                    .ok_or_else(|| SessionUserError::UnknownUser(user.to_owned()))?;
                (uid, Some(gid), Some(user.to_owned()), Some(home))
            }
        };
        let gid = match group.filter(|group| !group.is_empty()) {
            Some(group) => match group.parse::<u32>() {
                Ok(gid) => gid,
                Err(_) => group_id(group)
                    .ok_or_else(|| SessionUserError::UnknownGroup(group.to_owned()))?,
            },
            None => primary_gid.unwrap_or(uid),
        };
        if uid == 0 || gid == 0 {
            return Err(SessionUserError::Root);
        }
        Ok(Self {
            uid,
            gid,
            name,
            home,
        })
    }

    /// `nobody`, as listed, or uid and gid 65534.
    pub fn nobody() -> Self {
        Self::parse(DEFAULT_SESSION_USER).unwrap_or(Self {
            uid: NOBODY_ID,
            gid: NOBODY_ID,
            name: Some(DEFAULT_SESSION_USER.to_owned()),
            home: None,
        })
    }

    /// Who session programs run as: the configured user, else `nobody` when the server runs
    /// as root, else `None` (the server's own user).
    pub fn resolve(configured: Option<&str>) -> Result<Option<Self>, SessionUserError> {
        match configured {
            Some(text) => Self::parse(text).map(Some),
            None if rustix::process::getuid().is_root() => Ok(Some(Self::nobody())),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_names_and_groups() {
        let numeric = SessionUser::parse("4242:4343").unwrap();
        assert_eq!((numeric.uid, numeric.gid), (4242, 4343));
        assert_eq!(SessionUser::parse("0"), Err(SessionUserError::Root));
        assert_eq!(SessionUser::parse("1000:0"), Err(SessionUserError::Root));
        assert_eq!(SessionUser::parse(" "), Err(SessionUserError::Empty));
        assert!(matches!(
            SessionUser::parse("no-such-user-here"),
            Err(SessionUserError::UnknownUser(_))
        ));
        let nobody = SessionUser::nobody();
        assert_ne!(nobody.uid, 0);
        assert_ne!(nobody.gid, 0);
    }
}
