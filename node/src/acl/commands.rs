//! The ACL's view of the command table: every command and subcommand with its categories.
//! The command table builds one [`Commands`] at start; the ACL never imports it.

use std::collections::HashMap;

use super::category::{Categories, Category};

/// One command or subcommand as the command table describes it to the ACL.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec<'a> {
    /// The full lowercase name: `get`, or `client|id` for a container's subcommand.
    pub name: &'a str,
    /// Its ACL categories, those the table declares and those its flags imply.
    pub categories: Categories,
    /// Redis's `no_auth` flag (AUTH, HELLO): every user may run it, whatever its rules.
    pub no_auth: bool,
}

/// A command's place in [`Commands`]: rules keep one bit per command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommandId(u16);

impl CommandId {
    pub(super) fn index(self) -> usize {
        self.0 as usize
    }
}

#[derive(Debug)]
struct Entry {
    name: String,
    categories: Categories,
    no_auth: bool,
    parent: Option<CommandId>,
    /// The container's subcommands, by name.
    subcommands: Vec<CommandId>,
}

/// Every command and subcommand, by name. Ids follow the names' order, so that every list
/// the ACL prints comes in one stable order (Redis prints its hash table's order, which
/// changes from one process to the next).
#[derive(Debug)]
pub struct Commands {
    entries: Vec<Entry>,
    by_name: HashMap<String, CommandId>,
    /// The top-level commands, by name.
    top: Vec<CommandId>,
}

/// At most this many commands and subcommands (Redis's own bitmap holds 1024).
pub const COMMANDS_MAX: usize = 4096;

impl Commands {
    /// The view of `specs`. A subcommand (`a|b`) belongs to its container `a`; without it in
    /// the list, it is counted in categories but no rule can name it. A name given twice
    /// keeps one description; names past [`COMMANDS_MAX`] are left out.
    pub fn new<'a>(specs: impl IntoIterator<Item = CommandSpec<'a>>) -> Commands {
        let mut specs: Vec<CommandSpec<'a>> = specs.into_iter().collect();
        specs.sort_by(|a, b| a.name.cmp(b.name));
        specs.dedup_by(|b, a| a.name.eq_ignore_ascii_case(b.name));
        specs.truncate(COMMANDS_MAX);
        let mut by_name = HashMap::with_capacity(specs.len());
        let mut entries: Vec<Entry> = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let name = spec.name.to_ascii_lowercase();
            by_name.insert(name.clone(), CommandId(i as u16));
            entries.push(Entry {
                name,
                categories: spec.categories,
                no_auth: spec.no_auth,
                parent: None,
                subcommands: Vec::new(),
            });
        }
        let mut top = Vec::new();
        for i in 0..entries.len() {
            let id = CommandId(i as u16);
            let parent = entries[i]
                .name
                .split_once('|')
                .and_then(|(container, _)| by_name.get(container).copied());
            match parent {
                Some(p) => {
                    entries[i].parent = Some(p);
                    entries[p.index()].subcommands.push(id);
                }
                None => top.push(id),
            }
        }
        Commands {
            entries,
            by_name,
            top,
        }
    }

    /// How many commands and subcommands there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The command or subcommand named `name` (`get`, `CLIENT|ID`), in any case, as Redis's
    /// ACL looks names up: `a|b` only when `a` is a container and `b` one of its subcommands.
    pub fn lookup(&self, name: &[u8]) -> Option<CommandId> {
        let name = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
        let mut parts = name.splitn(3, '|');
        let container = self.by_name.get(parts.next()?).copied()?;
        match (parts.next(), parts.next()) {
            (None, _) => Some(container),
            (Some(_), None) => {
                let sub = self.by_name.get(&name).copied()?;
                (self.entries[sub.index()].parent == Some(container)).then_some(sub)
            }
            (Some(_), Some(_)) => None,
        }
    }

    /// The full name (`client|id`).
    pub fn name(&self, id: CommandId) -> &str {
        &self.entries[id.index()].name
    }

    pub fn categories(&self, id: CommandId) -> Categories {
        self.entries[id.index()].categories
    }

    pub fn no_auth(&self, id: CommandId) -> bool {
        self.entries[id.index()].no_auth
    }

    pub fn parent(&self, id: CommandId) -> Option<CommandId> {
        self.entries[id.index()].parent
    }

    pub fn subcommands(&self, id: CommandId) -> &[CommandId] {
        &self.entries[id.index()].subcommands
    }

    /// The top-level commands, by name.
    pub fn top_level(&self) -> &[CommandId] {
        &self.top
    }

    /// Every command and subcommand, each container followed by its subcommands (the
    /// order ACL CAT lists a category's commands in).
    pub fn walk(&self) -> impl Iterator<Item = CommandId> + '_ {
        self.top
            .iter()
            .flat_map(|&c| std::iter::once(c).chain(self.subcommands(c).iter().copied()))
    }

    /// The full names of the commands in `category` (ACL CAT `<category>`).
    pub fn in_category(&self, category: Category) -> Vec<&str> {
        self.walk()
            .filter(|&c| self.categories(c).contains(category))
            .map(|c| self.name(c))
            .collect()
    }
}

/// One bit per command of a [`Commands`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CommandBits(Vec<u64>);

impl CommandBits {
    pub(super) fn none(commands: &Commands) -> CommandBits {
        CommandBits(vec![0; commands.len().div_ceil(64)])
    }

    pub(super) fn all(commands: &Commands) -> CommandBits {
        let mut bits = CommandBits(vec![u64::MAX; commands.len().div_ceil(64)]);
        if let Some(last) = bits.0.last_mut() {
            let used = commands.len() % 64;
            if used != 0 {
                *last = (1 << used) - 1;
            }
        }
        bits
    }

    pub(super) fn get(&self, id: CommandId) -> bool {
        self.0[id.index() / 64] & (1 << (id.index() % 64)) != 0
    }

    pub(super) fn set(&mut self, id: CommandId, on: bool) {
        let word = &mut self.0[id.index() / 64];
        let bit = 1 << (id.index() % 64);
        if on {
            *word |= bit;
        } else {
            *word &= !bit;
        }
    }

    /// Set `id` and, for a container, every subcommand (Redis's ACLChangeSelectorPerm).
    pub(super) fn set_with_subcommands(&mut self, commands: &Commands, id: CommandId, on: bool) {
        self.set(id, on);
        for &sub in commands.subcommands(id) {
            self.set(sub, on);
        }
    }

    /// Set every command in `category`, and with a container all its subcommands, as Redis
    /// does for `+@category` and `-@category`.
    pub(super) fn set_category(&mut self, commands: &Commands, category: Category, on: bool) {
        for id in commands.walk() {
            if commands.categories(id).contains(category) {
                self.set_with_subcommands(commands, id, on);
            }
        }
    }

    /// How many commands of `category` are set and how many are not.
    pub(super) fn count_category(&self, commands: &Commands, category: Category) -> (u32, u32) {
        let (mut on, mut off) = (0, 0);
        for id in commands.walk() {
            if commands.categories(id).contains(category) {
                if self.get(id) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> CommandSpec<'_> {
        CommandSpec {
            name,
            categories: Categories::default(),
            no_auth: false,
        }
    }

    #[test]
    fn names_are_found_in_any_case_and_subcommands_only_under_their_container() {
        let commands = Commands::new(["select", "client|id", "client", "orphan|x"].map(spec));
        let name = |n: &[u8]| commands.lookup(n).map(|id| commands.name(id));
        assert_eq!(name(b"SELECT"), Some("select"));
        assert_eq!(name(b"Client|ID"), Some("client|id"));
        assert_eq!(name(b"client|id|x"), None);
        assert_eq!(name(b"select|0"), None);
        assert_eq!(name(b"client|nope"), None);
        assert_eq!(name(b"orphan|x"), None);
        let client = commands.lookup(b"client").expect("known");
        let walked: Vec<&str> = commands.walk().map(|id| commands.name(id)).collect();
        assert_eq!(walked, ["client", "client|id", "orphan|x", "select"]);
        assert_eq!(commands.subcommands(client).len(), 1);
    }

    #[test]
    fn bits_for_a_container_cover_its_subcommands() {
        let commands = Commands::new(["client", "client|id", "client|kill", "get"].map(spec));
        let client = commands.lookup(b"client").expect("known");
        let id = commands.lookup(b"client|id").expect("known");
        let get = commands.lookup(b"get").expect("known");
        let mut bits = CommandBits::none(&commands);
        bits.set_with_subcommands(&commands, client, true);
        assert!(bits.get(client) && bits.get(id) && !bits.get(get));
        assert_eq!(CommandBits::all(&commands), {
            let mut all = bits.clone();
            all.set(get, true);
            all
        });
    }
}
