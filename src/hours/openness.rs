//! Whether the chat is open at an instant, and when it opens next, for the skills a
//! session asks for (SPEC section 14).
//!
//! The hours are local times in the schedule's zone, so each day's ranges become
//! instants through that zone on that date: a day with a daylight-saving change is an
//! hour shorter or longer, and a range is open between the instants its ends name. A
//! local time skipped by the clocks going forward is read as the first instant after
//! the gap; one that happens twice when they go back, as the earlier.
//!
//! Which schedules apply: every asked skill with hours of its own must be open (the
//! site's hours do not count then); when none of the asked skills has its own, the
//! site's hours decide.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::{GapInfo, Tz};

use super::schedule::{BusinessHours, Range, Weekly};

/// How far ahead the next opening is looked for: past a year, so a yearly closure
/// (a holiday season) is crossed, but a schedule that never opens ends the search.
pub const SEARCH_DAYS: u64 = 400;

/// Whether a chat can start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Openness {
    Open,
    /// Outside the hours; `next_open_at` is `None` when they never open within
    /// [`SEARCH_DAYS`].
    Closed {
        next_open_at: Option<DateTime<Utc>>,
    },
}

impl BusinessHours {
    /// Whether a chat asking for `skills` (normalised labels) is within hours at `now`.
    pub fn openness(&self, skills: &[String], now: DateTime<Utc>) -> Openness {
        match self.next_open(skills, now) {
            Some(at) if at == now => Openness::Open,
            next_open_at => Openness::Closed { next_open_at },
        }
    }

    /// The earliest instant at or after `now` when every schedule that applies to
    /// `skills` is open, within [`SEARCH_DAYS`].
    pub fn next_open(&self, skills: &[String], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let calendars = self.calendars(skills);
        let horizon = now.checked_add_days(Days::new(SEARCH_DAYS))?;
        // Each round moves to the latest of the calendars' next openings; when that is
        // where the round started, all are open there. Every move lands on the start of
        // some range, so the rounds are bounded by the ranges before the horizon.
        let mut at = now;
        loop {
            let mut latest = at;
            for calendar in &calendars {
                latest = latest.max(calendar.next_open(at, horizon)?);
            }
            if latest == at {
                return Some(at);
            }
            at = latest;
        }
    }

    fn calendars(&self, skills: &[String]) -> Vec<Calendar<'_>> {
        let own: Vec<Calendar<'_>> = skills
            .iter()
            .filter_map(|skill| self.skills.get(skill))
            .map(|hours| Calendar {
                time_zone: self.time_zone,
                weekly: hours.weekly.as_ref().unwrap_or(&self.weekly),
                closed_dates: hours.closed_dates.as_ref().unwrap_or(&self.closed_dates),
            })
            .collect();
        if !own.is_empty() {
            return own;
        }
        vec![Calendar {
            time_zone: self.time_zone,
            weekly: &self.weekly,
            closed_dates: &self.closed_dates,
        }]
    }
}

/// One schedule as it applies: a week and closed dates in a time zone.
struct Calendar<'a> {
    time_zone: Tz,
    weekly: &'a Weekly,
    closed_dates: &'a BTreeSet<NaiveDate>,
}

impl Calendar<'_> {
    /// The earliest instant at or after `from` when this calendar is open, if it is not
    /// after `horizon`.
    fn next_open(&self, from: DateTime<Utc>, horizon: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // The day before too: its last range may run past local midnight when the
        // zone's offset changes at night.
        let first = from
            .with_timezone(&self.time_zone)
            .date_naive()
            .pred_opt()?;
        let last = horizon
            .with_timezone(&self.time_zone)
            .date_naive()
            .succ_opt()?;
        first
            .iter_days()
            .take_while(|date| *date <= last)
            .flat_map(|date| self.open_spans(date))
            .find(|(_, end)| *end > from)
            .map(|(start, _)| start.max(from))
            .filter(|at| *at <= horizon)
    }

    /// The instants local `date`'s ranges run between, in order; none on a closed date.
    fn open_spans(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if self.closed_dates.contains(&date) {
            return Vec::new();
        }
        self.weekly
            .day(date.weekday().num_days_from_monday() as usize)
            .iter()
            .map(|range| self.span(date, range))
            .filter(|(start, end)| start < end)
            .collect()
    }

    fn span(&self, date: NaiveDate, range: &Range) -> (DateTime<Utc>, DateTime<Utc>) {
        let local = |minutes: u16| {
            let midnight = date.and_time(NaiveTime::MIN);
            midnight + chrono::Duration::minutes(i64::from(minutes))
        };
        (
            instant(self.time_zone, local(range.start.minutes())),
            instant(self.time_zone, local(range.end.minutes())),
        )
    }
}

/// The instant a local time names: the earlier of two when the clocks went back, the
/// first instant after the gap when they went forward past it.
fn instant(time_zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    if let Some(at) = time_zone.from_local_datetime(&local).earliest() {
        return at.with_timezone(&Utc);
    }
    GapInfo::new(&local, &time_zone)
        .and_then(|gap| gap.end)
        .map(|at| at.with_timezone(&Utc))
        // A gap always has an end in the zone's data; read as UTC, should one not.
        .unwrap_or_else(|| local.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hours::schedule::BusinessHoursDoc;
    use serde_json::json;

    fn hours(value: serde_json::Value) -> BusinessHours {
        let doc: BusinessHoursDoc = serde_json::from_value(value).unwrap();
        BusinessHours::parse(&doc).unwrap()
    }

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    fn closed_until(rfc3339: &str) -> Openness {
        Openness::Closed {
            next_open_at: Some(at(rfc3339)),
        }
    }

    fn skills(labels: &[&str]) -> Vec<String> {
        labels.iter().map(|label| label.to_string()).collect()
    }

    fn office_week() -> serde_json::Value {
        let day = json!([["09:00", "17:00"]]);
        json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day})
    }

    #[test]
    fn hours_are_local_times_of_the_zone_across_the_spring_daylight_saving_change() {
        let berlin = hours(json!({"time_zone": "Europe/Berlin", "weekly": {
            "sat": [["09:00", "17:00"]], "sun": [["02:30", "04:00"]], "mon": [["09:00", "17:00"]]}}));
        // Saturday is winter time (+01:00), Monday summer time (+02:00).
        assert_eq!(
            berlin.openness(&[], at("2026-03-28T08:00:00Z")),
            Openness::Open
        );
        assert_eq!(
            berlin.openness(&[], at("2026-03-28T07:59:59Z")),
            closed_until("2026-03-28T08:00:00Z")
        );
        assert_eq!(
            berlin.openness(&[], at("2026-03-30T06:30:00Z")),
            closed_until("2026-03-30T07:00:00Z")
        );
        // 02:30 does not exist on 29 March: the range opens when the clocks reach
        // 03:00 summer time, 01:00 UTC, and closes at 04:00 summer time.
        assert_eq!(
            berlin.openness(&[], at("2026-03-29T00:30:00Z")),
            closed_until("2026-03-29T01:00:00Z")
        );
        assert_eq!(
            berlin.openness(&[], at("2026-03-29T01:00:00Z")),
            Openness::Open
        );
        assert_eq!(
            berlin.openness(&[], at("2026-03-29T01:59:59Z")),
            Openness::Open
        );
        assert_eq!(
            berlin.openness(&[], at("2026-03-29T02:00:00Z")),
            closed_until("2026-03-30T07:00:00Z")
        );
    }

    #[test]
    fn a_local_time_that_happens_twice_in_autumn_is_the_earlier() {
        let berlin = hours(json!({"time_zone": "Europe/Berlin",
                                  "weekly": {"sun": [["02:30", "03:00"]]}}));
        // 02:30 summer time is 00:30 UTC; 03:00 winter time is 02:00 UTC, so the range
        // runs an hour and a half, through both 02:45s.
        assert_eq!(
            berlin.openness(&[], at("2026-10-25T00:15:00Z")),
            closed_until("2026-10-25T00:30:00Z")
        );
        assert_eq!(
            berlin.openness(&[], at("2026-10-25T00:45:00Z")),
            Openness::Open
        );
        assert_eq!(
            berlin.openness(&[], at("2026-10-25T01:45:00Z")),
            Openness::Open
        );
        assert_eq!(
            berlin.openness(&[], at("2026-10-25T02:00:00Z")),
            closed_until("2026-11-01T01:30:00Z")
        );
    }

    #[test]
    fn a_range_ending_at_24_00_runs_to_midnight_and_on_into_the_next_day() {
        let berlin = hours(json!({"time_zone": "Europe/Berlin", "weekly": {
            "mon": [["20:00", "24:00"]], "tue": [["00:00", "02:00"]]}}));
        // Monday 23:59:59 and Tuesday 00:00 in Berlin (+01:00 in December).
        assert_eq!(
            berlin.openness(&[], at("2026-12-07T22:59:59Z")),
            Openness::Open
        );
        assert_eq!(
            berlin.openness(&[], at("2026-12-07T23:00:00Z")),
            Openness::Open
        );
        assert_eq!(
            berlin.openness(&[], at("2026-12-08T01:00:00Z")),
            closed_until("2026-12-14T19:00:00Z")
        );
    }

    #[test]
    fn the_next_opening_skips_a_weekend_and_closed_dates() {
        let berlin = hours(
            json!({"time_zone": "Europe/Berlin", "weekly": office_week(),
                                  "closed_dates": ["2026-12-25", "2026-12-28"]}),
        );
        // Thursday 24 December after hours; Friday and Monday are closed dates.
        assert_eq!(
            berlin.openness(&[], at("2026-12-24T17:00:00Z")),
            closed_until("2026-12-29T08:00:00Z")
        );
        // A closed date closes the whole day, also in the middle of its hours.
        assert_eq!(
            berlin.openness(&[], at("2026-12-28T10:00:00Z")),
            closed_until("2026-12-29T08:00:00Z")
        );
        assert_eq!(
            berlin.openness(&[], at("2026-12-29T08:00:00Z")),
            Openness::Open
        );
    }

    #[test]
    fn asked_skills_with_hours_of_their_own_replace_the_sites_and_must_all_be_open() {
        let berlin = hours(json!({
            "time_zone": "Europe/Berlin",
            "weekly": office_week(),
            "skills": {
                "billing": {"weekly": {"mon": [["10:00", "12:00"]], "tue": [["10:00", "12:00"]]}},
                "tax": {"weekly": {"mon": [["11:00", "13:00"]], "tue": [["09:00", "10:00"]]}},
                "vip": {"closed_dates": ["2026-12-07"]},
                "weekend": {"weekly": {"sat": [["10:00", "14:00"]]}, "closed_dates": []},
            },
        }));
        // Monday 7 December, 09:30 in Berlin.
        let monday = at("2026-12-07T08:30:00Z");
        assert_eq!(berlin.openness(&[], monday), Openness::Open);
        assert_eq!(
            berlin.openness(&skills(&["french"]), monday),
            Openness::Open
        );
        assert_eq!(
            berlin.openness(&skills(&["billing"]), monday),
            closed_until("2026-12-07T09:00:00Z")
        );
        assert_eq!(
            berlin.openness(&skills(&["french", "billing"]), monday),
            closed_until("2026-12-07T09:00:00Z")
        );
        // Both open only from 11:00 to 12:00 on Mondays.
        assert_eq!(
            berlin.openness(&skills(&["billing", "tax"]), monday),
            closed_until("2026-12-07T10:00:00Z")
        );
        assert_eq!(
            berlin.openness(&skills(&["billing", "tax"]), at("2026-12-07T11:00:00Z")),
            closed_until("2026-12-14T10:00:00Z")
        );
        // The site's week with the skill's own closed date.
        assert_eq!(
            berlin.openness(&skills(&["vip"]), monday),
            closed_until("2026-12-08T08:00:00Z")
        );
        // A skill's own week is not bound by the site's.
        assert_eq!(
            berlin.openness(&skills(&["weekend"]), at("2026-12-12T10:00:00Z")),
            Openness::Open
        );
    }

    #[test]
    fn hours_that_never_open_have_no_next_opening() {
        let closed = hours(json!({"time_zone": "Europe/Berlin"}));
        let now = at("2026-12-07T08:30:00Z");
        assert_eq!(
            closed.openness(&[], now),
            Openness::Closed { next_open_at: None }
        );
        let disjoint = hours(json!({"time_zone": "UTC", "skills": {
            "early": {"weekly": {"mon": [["08:00", "09:00"]]}},
            "late": {"weekly": {"mon": [["09:00", "10:00"]]}},
        }}));
        assert_eq!(
            disjoint.openness(&skills(&["early", "late"]), now),
            Openness::Closed { next_open_at: None }
        );
    }

    #[test]
    fn an_opening_beyond_the_search_is_not_reported() {
        let mut dates = Vec::new();
        let mut day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        while dates.len() < 410 {
            dates.push(day.to_string());
            day = day.succ_opt().unwrap();
        }
        let every_day = json!([["00:00", "24:00"]]);
        let closed_long = hours(
            json!({"time_zone": "UTC", "closed_dates": dates, "weekly": {
            "mon": every_day, "tue": every_day, "wed": every_day, "thu": every_day,
            "fri": every_day, "sat": every_day, "sun": every_day}}),
        );
        assert_eq!(
            closed_long.openness(&[], at("2026-01-01T12:00:00Z")),
            Openness::Closed { next_open_at: None }
        );
        assert_eq!(
            closed_long.openness(&[], at("2026-12-01T12:00:00Z")),
            closed_until("2027-02-15T00:00:00Z")
        );
    }
}
