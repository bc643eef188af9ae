//! The host-held store that modules share through get_state/set_state.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;

#[derive(Default)]
pub struct StateStore {
    values: Mutex<BTreeMap<String, Value>>,
}

impl StateStore {
    pub fn get(&self, key: &str) -> Option<Value> {
        self.values.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned()
    }

    pub fn set(&self, key: &str, value: Value) {
        self.values.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_string(), value);
    }

    pub fn snapshot(&self) -> BTreeMap<String, Value> {
        self.values.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
