//! A capacity model: how many more instances of each type each region can start.

use std::collections::HashMap;

/// Available instances per (region, instance type). Unknown pairs have none.
#[derive(Debug, Clone, Default)]
pub struct Capacity {
    available: HashMap<(String, String), u32>,
}

impl Capacity {
    /// No capacity anywhere.
    pub fn new() -> Self {
        Self::default()
    }

    /// `count` of every type in every region.
    pub fn uniform(regions: &[&str], types: &[&str], count: u32) -> Self {
        let mut capacity = Self::new();
        for region in regions {
            for instance_type in types {
                capacity.set(region, instance_type, count);
            }
        }
        capacity
    }

    /// Available instances of `instance_type` in `region`.
    pub fn get(&self, region: &str, instance_type: &str) -> u32 {
        self.available
            .get(&(region.to_owned(), instance_type.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Sets the available instances of `instance_type` in `region`.
    pub fn set(&mut self, region: &str, instance_type: &str, count: u32) {
        self.available
            .insert((region.to_owned(), instance_type.to_owned()), count);
    }

    /// Takes one instance's worth; false (and nothing taken) when none is left.
    pub fn take(&mut self, region: &str, instance_type: &str) -> bool {
        match self
            .available
            .get_mut(&(region.to_owned(), instance_type.to_owned()))
        {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// Gives one instance's worth back (an instance that held it ended).
    pub fn give_back(&mut self, region: &str, instance_type: &str) {
        let n = self
            .available
            .entry((region.to_owned(), instance_type.to_owned()))
            .or_insert(0);
        *n = n.saturating_add(1);
    }

    /// No capacity anywhere.
    pub fn clear(&mut self) {
        self.available.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_until_empty_then_give_back() {
        let mut capacity = Capacity::uniform(&["r1", "r2"], &["t"], 1);
        assert!(capacity.take("r1", "t"));
        assert!(!capacity.take("r1", "t"));
        assert_eq!(capacity.get("r2", "t"), 1);
        assert!(!capacity.take("r3", "t"));
        capacity.give_back("r1", "t");
        assert_eq!(capacity.get("r1", "t"), 1);
        capacity.clear();
        assert_eq!(capacity.get("r2", "t"), 0);
    }
}
