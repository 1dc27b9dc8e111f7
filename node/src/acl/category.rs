//! Redis's ACL command categories (`@read`, `@admin`, ...), in Redis's order: ACL CAT lists
//! them in it, and the description of a user's commands tries them in it.

/// The names of the categories, in Redis's order; a category's bit in [`Categories`] is its
/// index here (the same bits as the command table's).
pub const CATEGORY_NAMES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// One category, by its index in [`CATEGORY_NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Category(u8);

impl Category {
    /// The category named `name` (without `@`, any case), as `+@name` finds it.
    pub fn by_name(name: &[u8]) -> Option<Category> {
        CATEGORY_NAMES
            .iter()
            .position(|n| n.as_bytes().eq_ignore_ascii_case(name))
            .map(|i| Category(i as u8))
    }

    /// Every category, in Redis's order.
    pub fn all() -> impl Iterator<Item = Category> {
        (0..CATEGORY_NAMES.len()).map(|i| Category(i as u8))
    }

    pub fn name(self) -> &'static str {
        CATEGORY_NAMES[self.0 as usize]
    }

    pub(super) fn index(self) -> usize {
        self.0 as usize
    }
}

/// A set of categories: bit `i` is the category at index `i` of [`CATEGORY_NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Categories(pub u32);

impl Categories {
    pub fn contains(self, c: Category) -> bool {
        self.0 & (1 << c.0) != 0
    }

    pub fn with(self, c: Category) -> Categories {
        Categories(self.0 | 1 << c.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_found_by_name_in_any_case_and_keep_redis_order() {
        assert_eq!(Category::by_name(b"READ").map(Category::name), Some("read"));
        assert_eq!(Category::by_name(b"all"), None);
        assert_eq!(Category::by_name(b"@read"), None);
        let names: Vec<_> = Category::all().map(Category::name).collect();
        assert_eq!(names.first(), Some(&"keyspace"));
        assert_eq!(names.last(), Some(&"scripting"));
        let slow = Category::by_name(b"slow").expect("slow is a category");
        let set = Categories::default().with(slow);
        assert!(set.contains(slow));
        assert_eq!(set, Categories(1 << 15));
    }
}
