//! `gdcctl acl`: an instance's ACL users, one set for every node of the instance. `list`
//! reads them from the topology; `load` sets them from an ACL file by a compare-and-set on
//! their version (`set-acl`), so a change made meanwhile by another writer is not undone:
//! the load is refused and says so.

use crate::client::AdminClient;
use crate::topology::{AclRecord, Change};

/// What `gdcctl acl load` did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Loaded {
    pub instance: String,
    /// The ACL's version now.
    pub version: u64,
    /// How many users it holds.
    pub users: usize,
    /// The coordinators' log index of the change.
    pub index: u64,
}

/// The user lines of an ACL file, as Redis reads one: each line trimmed, blank lines and
/// `#` comments skipped, every other line `user <name> <rules>...`. The rules are left to
/// the nodes, which check them in full.
pub fn read_file(name: &str, text: &str) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !line.starts_with("user ") {
            return Err(format!(
                "{name}:{}: should start with user keyword followed by the username",
                i + 1
            ));
        }
        lines.push(line.to_string());
    }
    Ok(lines)
}

/// `instance`'s ACL as the leader holds it.
pub async fn list(admin: &AdminClient, instance: &str) -> Result<AclRecord, String> {
    let (t, _) = admin.topology().await?;
    t.instances
        .get(instance)
        .map(|i| i.acl.clone())
        .ok_or_else(|| format!("no instance '{instance}'"))
}

/// What `gdcctl acl list` prints: the version, then one line per user (or as JSON).
pub fn show_record(instance: &str, record: &AclRecord, json: bool) -> String {
    if json {
        let shown = serde_json::json!({
            "instance": instance,
            "version": record.version,
            "lines": record.lines,
        });
        return format!("{shown}\n");
    }
    let mut out = format!("version {}\n", record.version);
    for line in &record.lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// What `gdcctl acl load` prints.
pub fn show_loaded(loaded: &Loaded, json: bool) -> String {
    if json {
        return format!("{}\n", serde_json::json!(loaded));
    }
    format!(
        "instance {}: ACL version {} ({} users)\n",
        loaded.instance, loaded.version, loaded.users
    )
}

/// Set `instance`'s users to `lines`, over the version read just before.
pub async fn load(
    admin: &AdminClient,
    instance: &str,
    lines: Vec<String>,
) -> Result<Loaded, String> {
    let expected_version = list(admin, instance).await?.version;
    let users = lines.len();
    let index = admin
        .change(&Change::SetAcl {
            instance: instance.to_string(),
            expected_version,
            lines,
        })
        .await?;
    Ok(Loaded {
        instance: instance.to_string(),
        version: expected_version + 1,
        users,
        index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acl_file_gives_its_user_lines_trimmed_without_blanks_and_comments() {
        let text = "# the shop's users\n\nuser default on nopass ~* &* +@all\r\n  \
                    user app on >secret ~app:* +@read  \n\t# done\n";
        assert_eq!(
            read_file("users.acl", text),
            Ok(vec![
                "user default on nopass ~* &* +@all".to_string(),
                "user app on >secret ~app:* +@read".to_string(),
            ])
        );
        assert_eq!(read_file("empty.acl", "\n# nothing\n"), Ok(vec![]));
        assert_eq!(
            read_file("users.acl", "user default on\ndefault off\n"),
            Err("users.acl:2: should start with user keyword followed by the username".to_string())
        );
        assert!(read_file("users.acl", "user\n").is_err(), "no username");
    }
}
