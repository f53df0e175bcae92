//! The activities of the simulated runner, kept newest first.

use std::cmp::Ordering;

use crate::activity::Activity;

/// Newest first by local start time (`startDateTimeLocal` as written, the order SmashRun's own lists use), ties broken
/// by `activityId` descending.
fn newest_first(a: &Activity, b: &Activity) -> Ordering {
    b.start.wall.cmp(&a.start.wall).then(b.id.cmp(&a.id))
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    items: Vec<Activity>,
}

impl Store {
    /// Fails with the first duplicated `activityId`.
    pub(crate) fn new(mut items: Vec<Activity>) -> Result<Self, i64> {
        items.sort_by_key(|a| a.id);
        if let Some(pair) = items.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(pair[0].id);
        }
        items.sort_by(newest_first);
        Ok(Self { items })
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Newest first.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, Activity> {
        self.items.iter()
    }

    pub(crate) fn get(&self, id: i64) -> Option<&Activity> {
        self.items.iter().find(|a| a.id == id)
    }

    pub(crate) fn contains(&self, id: i64) -> bool {
        self.get(id).is_some()
    }

    pub(crate) fn max_id(&self) -> Option<i64> {
        self.items.iter().map(|a| a.id).max()
    }

    /// Inserts, keeping the order. The caller makes sure the id is new.
    pub(crate) fn insert(&mut self, activity: Activity) {
        let at = self
            .items
            .partition_point(|a| newest_first(a, &activity) == Ordering::Less);
        self.items.insert(at, activity);
    }

    pub(crate) fn remove(&mut self, id: i64) -> Option<Activity> {
        let at = self.items.iter().position(|a| a.id == id)?;
        Some(self.items.remove(at))
    }

    /// Replaces the activity with the same id (it may move in the order).
    pub(crate) fn replace(&mut self, activity: Activity) {
        self.remove(activity.id);
        self.insert(activity);
    }
}
