//! Coordinator safety: the coordinators' recorded history of primaries (`history` in the
//! topology, docs/coordinator.md) never has two primaries for one region in one epoch, and
//! a region's epochs only go up.

use serde_json::Value;
use std::collections::BTreeMap;

/// What the history breaks, in words (empty: nothing).
pub fn check(topology: &Value) -> Vec<String> {
    let mut anomalies = Vec::new();
    let mut last: BTreeMap<(&str, &str), (u64, &str)> = BTreeMap::new();
    let empty = Vec::new();
    for entry in topology["history"].as_array().unwrap_or(&empty) {
        let s = |k: &str| entry[k].as_str().unwrap_or("");
        let (instance, region, primary) = (s("instance"), s("region"), s("primary"));
        let epoch = entry["epoch"].as_u64().unwrap_or(0);
        if let Some(&(e, p)) = last.get(&(instance, region)) {
            if e == epoch && p != primary {
                anomalies.push(format!(
                    "{instance}/{region}: two primaries in epoch {epoch}: {p} and {primary}"
                ));
            } else if epoch < e {
                anomalies.push(format!(
                    "{instance}/{region}: epoch went back from {e} to {epoch} ({primary})"
                ));
            }
        }
        last.insert((instance, region), (epoch, primary));
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::check;
    use serde_json::json;

    #[test]
    fn two_primaries_in_one_epoch_or_an_epoch_going_back_are_anomalies() {
        let entry = |epoch: u64, primary: &str| json!({ "instance": "i", "region": "r1", "epoch": epoch, "primary": primary });
        let fine = json!({ "history": [entry(1, "a"), entry(2, "b"), entry(3, "a")] });
        assert!(check(&fine).is_empty());
        let two = json!({ "history": [entry(1, "a"), entry(1, "b")] });
        assert!(check(&two)[0].contains("two primaries in epoch 1"));
        let back = json!({ "history": [entry(2, "a"), entry(1, "b")] });
        assert!(check(&back)[0].contains("went back"));
    }
}
