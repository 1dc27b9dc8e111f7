//! A selector written back as rules (ACL LIST, ACL GETUSER, the ACL file), by Redis's
//! algorithm, so that gdc prints what redis-server prints for the same ACL SETUSER rules.
//!
//! Redis does not keep the rules it was given: it keeps one bit per command, and describes
//! the bits by starting from `+@all` (when the rules allow future commands) or `-@all`,
//! then adding the category that best fits what is left, again and again, and last the
//! single commands still different. The one difference: Redis lists the single commands in
//! the order of its command hash table, which changes from one process to the next; gdc
//! lists them by name, each container before its subcommands (as Redis does too).

use super::Category;
use super::category::CATEGORY_NAMES;
use super::commands::{CommandBits, CommandId, Commands};
use super::selector::Selector;

/// The selector's command rules: `+@all`/`-@all`, the categories, the single commands and
/// the first arguments (Redis's ACLDescribeSelectorCommandRules).
pub(super) fn command_rules(cmds: &Commands, selector: &Selector) -> Vec<u8> {
    let additive = !selector.future_commands();
    let mut rules: Vec<u8> = Vec::new();
    let mut fake = if additive {
        rules.extend_from_slice(b"-@all ");
        CommandBits::none(cmds)
    } else {
        rules.extend_from_slice(b"+@all ");
        CommandBits::all(cmds)
    };
    for category in best_categories(cmds, selector.allowed(), additive) {
        fake.set_category(cmds, category, additive);
        rules.push(if additive { b'+' } else { b'-' });
        rules.push(b'@');
        rules.extend_from_slice(category.name().as_bytes());
        rules.push(b' ');
    }
    for &id in cmds.top_level() {
        single_command(cmds, selector, &mut fake, id, &mut rules);
        for &sub in cmds.subcommands(id) {
            single_command(cmds, selector, &mut fake, sub, &mut rules);
        }
        if !selector.allowed().get(id) {
            for arg in selector.first_args(id) {
                rules.push(b'+');
                rules.extend_from_slice(cmds.name(id).as_bytes());
                rules.push(b'|');
                rules.extend_from_slice(arg);
                rules.push(b' ');
            }
        }
    }
    rules.pop();
    debug_assert!(&fake == selector.allowed(), "the rules describe the bits");
    rules
}

/// The categories to apply, in order: each time the one not yet applied with fewer
/// commands against the bits than for them, the fewest against, and then the most for.
fn best_categories(cmds: &Commands, allowed: &CommandBits, additive: bool) -> Vec<Category> {
    let mut left = allowed.clone();
    let mut applied = [false; CATEGORY_NAMES.len()];
    let mut chosen = Vec::new();
    loop {
        let mut best: Option<Category> = None;
        let (mut min_diff, mut max_same) = (u32::MAX, 0);
        for category in Category::all().filter(|c| !applied[c.index()]) {
            let (on, off) = left.count_category(cmds, category);
            let (diff, same) = if additive { (off, on) } else { (on, off) };
            if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                best = Some(category);
                min_diff = diff;
                max_same = same;
            }
        }
        let Some(category) = best else {
            return chosen;
        };
        left.set_category(cmds, category, !additive);
        applied[category.index()] = true;
        chosen.push(category);
    }
}

/// `+name` or `-name` when the command's bit still differs, applied to `fake`.
fn single_command(
    cmds: &Commands,
    selector: &Selector,
    fake: &mut CommandBits,
    id: CommandId,
    rules: &mut Vec<u8>,
) {
    let on = selector.allowed().get(id);
    if on != fake.get(id) {
        rules.push(if on { b'+' } else { b'-' });
        rules.extend_from_slice(cmds.name(id).as_bytes());
        rules.push(b' ');
        fake.set_with_subcommands(cmds, id, on);
    }
}

/// The selector's keys, channels and commands, as ACL LIST shows it (Redis's
/// ACLDescribeSelector): `~* &* +@all`, `~k resetchannels &c -@all +get`.
pub(super) fn selector_rules(cmds: &Commands, selector: &Selector) -> Vec<u8> {
    let mut out = Vec::new();
    if selector.all_keys() {
        out.extend_from_slice(b"~* ");
    } else {
        for key in selector.keys() {
            key.describe(&mut out);
            out.push(b' ');
        }
    }
    if selector.all_channels() {
        out.extend_from_slice(b"&* ");
    } else {
        out.extend_from_slice(b"resetchannels ");
        for channel in selector.channels() {
            out.push(b'&');
            out.extend_from_slice(channel);
            out.push(b' ');
        }
    }
    out.extend_from_slice(&command_rules(cmds, selector));
    out
}

/// The keys as ACL GETUSER shows them: `~*`, or the patterns joined by spaces.
pub(super) fn keys_field(selector: &Selector) -> Vec<u8> {
    if selector.all_keys() {
        return b"~*".to_vec();
    }
    let mut out = Vec::new();
    for (i, key) in selector.keys().iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        key.describe(&mut out);
    }
    out
}

/// The channels as ACL GETUSER shows them: `&*`, or `&pattern`s joined by spaces.
pub(super) fn channels_field(selector: &Selector) -> Vec<u8> {
    if selector.all_channels() {
        return b"&*".to_vec();
    }
    let mut out = Vec::new();
    for (i, channel) in selector.channels().iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.push(b'&');
        out.extend_from_slice(channel);
    }
    out
}
