//! Business hours as an admin writes them (SPEC section 14) and as the server keeps them:
//! the JSON document ([`BusinessHoursDoc`]) is parsed once into [`BusinessHours`], whose
//! times, dates, time zone and skill labels are known to be valid, so the rules that
//! evaluate it never meet a bad value. Writing it back gives the normalised document:
//! days Monday first, ranges and dates sorted, skills under their normalised labels.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::inputs;
use crate::error::{Error, Result};

/// Most opening ranges in one day.
pub const MAX_RANGES_PER_DAY: usize = 10;
/// Most closed dates in one list (the site's, or a skill's).
pub const MAX_CLOSED_DATES: usize = 1000;
/// Most skills with their own schedule.
pub const MAX_SKILLS: usize = 50;

/// Minutes in a day: `24:00`, the end of a range that runs to midnight.
const DAY_MINUTES: u16 = 24 * 60;

/// The days of the week in the document's order, Monday first (chrono's
/// `num_days_from_monday` indexes them).
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The document of `GET`/`PUT /api/v1/business-hours`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursDoc {
    /// An IANA time zone (`Europe/Berlin`); the hours are local times there, daylight
    /// saving included.
    pub time_zone: String,
    /// Opening hours per weekday; a day left out is closed all day.
    #[serde(default)]
    pub weekly: WeeklyDoc,
    /// Local dates (`YYYY-MM-DD`) closed all day, at most 1000.
    #[serde(default)]
    pub closed_dates: Vec<String>,
    /// Schedules of their own for chats asking for these skills, at most 50.
    #[serde(default)]
    pub skills: BTreeMap<String, SkillHoursDoc>,
}

/// Opening ranges `["HH:MM", "HH:MM"]` per weekday, local time, the end after the start
/// (`"24:00"` for midnight), at most 10 a day, not overlapping.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyDoc {
    #[serde(default)]
    pub mon: Vec<[String; 2]>,
    #[serde(default)]
    pub tue: Vec<[String; 2]>,
    #[serde(default)]
    pub wed: Vec<[String; 2]>,
    #[serde(default)]
    pub thu: Vec<[String; 2]>,
    #[serde(default)]
    pub fri: Vec<[String; 2]>,
    #[serde(default)]
    pub sat: Vec<[String; 2]>,
    #[serde(default)]
    pub sun: Vec<[String; 2]>,
}

/// A skill's own schedule; what it leaves out is the site's.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillHoursDoc {
    /// The skill's weekly hours; the site's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<WeeklyDoc>,
    /// The skill's closed dates; the site's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_dates: Option<Vec<String>>,
}

/// A local time of day in minutes since midnight, `0..=1440` (1440 is `24:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// `HH:MM` with two digits each, from `00:00` to `24:00`.
    fn parse(field: &str, raw: &str) -> Result<TimeOfDay> {
        let invalid = || {
            Error::bad_request(format!(
                "{field}: {raw:?} is not a time of day (HH:MM, 00:00 to 24:00)"
            ))
        };
        let (hours, minutes) = raw.split_once(':').ok_or_else(invalid)?;
        let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(hours) || !two_digits(minutes) {
            return Err(invalid());
        }
        let (hours, minutes): (u16, u16) = (
            hours.parse().map_err(|_| invalid())?,
            minutes.parse().map_err(|_| invalid())?,
        );
        let total = hours * 60 + minutes;
        if minutes >= 60 || total > DAY_MINUTES {
            return Err(invalid());
        }
        Ok(TimeOfDay(total))
    }

    pub fn minutes(self) -> u16 {
        self.0
    }

    fn format(self) -> String {
        format!("{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// One opening range of a day: from `start` until just before `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
}

/// Opening ranges per weekday, Monday first, each day's sorted and disjoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Weekly([Vec<Range>; 7]);

impl Weekly {
    fn parse(field: &str, doc: &WeeklyDoc) -> Result<Weekly> {
        let days = [
            &doc.mon, &doc.tue, &doc.wed, &doc.thu, &doc.fri, &doc.sat, &doc.sun,
        ];
        let mut weekly = Weekly::default();
        for ((name, raw), ranges) in DAY_NAMES.iter().zip(days).zip(&mut weekly.0) {
            *ranges = parse_day(&format!("{field}.{name}"), raw)?;
        }
        Ok(weekly)
    }

    /// The ranges of a weekday, `0` being Monday.
    pub fn day(&self, days_from_monday: usize) -> &[Range] {
        &self.0[days_from_monday]
    }

    fn to_doc(&self) -> WeeklyDoc {
        let day = |index: usize| {
            self.0[index]
                .iter()
                .map(|range| [range.start.format(), range.end.format()])
                .collect()
        };
        WeeklyDoc {
            mon: day(0),
            tue: day(1),
            wed: day(2),
            thu: day(3),
            fri: day(4),
            sat: day(5),
            sun: day(6),
        }
    }
}

fn parse_day(field: &str, raw: &[[String; 2]]) -> Result<Vec<Range>> {
    if raw.len() > MAX_RANGES_PER_DAY {
        return Err(Error::bad_request(format!(
            "{field}: at most {MAX_RANGES_PER_DAY} ranges a day"
        )));
    }
    let mut ranges = Vec::with_capacity(raw.len());
    for (index, [start, end]) in raw.iter().enumerate() {
        let at = format!("{field}[{index}]");
        let range = Range {
            start: TimeOfDay::parse(&at, start)?,
            end: TimeOfDay::parse(&at, end)?,
        };
        if range.end <= range.start {
            return Err(Error::bad_request(format!(
                "{at}: the range must end after it starts ({start} to {end})"
            )));
        }
        ranges.push(range);
    }
    ranges.sort();
    if let Some(pair) = ranges.windows(2).find(|pair| pair[1].start < pair[0].end) {
        return Err(Error::bad_request(format!(
            "{field}: the ranges {}-{} and {}-{} overlap",
            pair[0].start.format(),
            pair[0].end.format(),
            pair[1].start.format(),
            pair[1].end.format()
        )));
    }
    Ok(ranges)
}

fn parse_dates(field: &str, raw: &[String]) -> Result<BTreeSet<NaiveDate>> {
    if raw.len() > MAX_CLOSED_DATES {
        return Err(Error::bad_request(format!(
            "{field}: at most {MAX_CLOSED_DATES} dates"
        )));
    }
    raw.iter()
        .enumerate()
        .map(|(index, date)| {
            NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
                Error::bad_request(format!(
                    "{field}[{index}]: {date:?} is not a date (YYYY-MM-DD)"
                ))
            })
        })
        .collect()
}

fn dates_doc(dates: &BTreeSet<NaiveDate>) -> Vec<String> {
    dates.iter().map(|date| date.to_string()).collect()
}

/// A skill's own schedule: each part it leaves out is the site's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillHours {
    pub(super) weekly: Option<Weekly>,
    pub(super) closed_dates: Option<BTreeSet<NaiveDate>>,
}

/// Valid business hours: a time zone, the site's week and closed dates, and the skills
/// that have hours of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    pub(super) time_zone: Tz,
    pub(super) weekly: Weekly,
    pub(super) closed_dates: BTreeSet<NaiveDate>,
    /// By normalised skill label.
    pub(super) skills: BTreeMap<String, SkillHours>,
}

impl BusinessHours {
    /// Checks every field of the document; a bad one is a `bad_request` naming it.
    pub fn parse(doc: &BusinessHoursDoc) -> Result<BusinessHours> {
        let time_zone = doc.time_zone.parse::<Tz>().map_err(|_| {
            Error::bad_request(format!(
                "time_zone: {:?} is not a known time zone (e.g. \"Europe/Berlin\")",
                doc.time_zone
            ))
        })?;
        if doc.skills.len() > MAX_SKILLS {
            return Err(Error::bad_request(format!(
                "skills: at most {MAX_SKILLS} skills"
            )));
        }
        let mut skills = BTreeMap::new();
        for (raw_label, skill) in &doc.skills {
            let label = skill_label(raw_label)?;
            let field = format!("skills.{label}");
            let hours = SkillHours {
                weekly: skill
                    .weekly
                    .as_ref()
                    .map(|weekly| Weekly::parse(&format!("{field}.weekly"), weekly))
                    .transpose()?,
                closed_dates: skill
                    .closed_dates
                    .as_deref()
                    .map(|dates| parse_dates(&format!("{field}.closed_dates"), dates))
                    .transpose()?,
            };
            if skills.insert(label.clone(), hours).is_some() {
                return Err(Error::bad_request(format!(
                    "skills: {label:?} is given twice"
                )));
            }
        }
        Ok(BusinessHours {
            time_zone,
            weekly: Weekly::parse("weekly", &doc.weekly)?,
            closed_dates: parse_dates("closed_dates", &doc.closed_dates)?,
            skills,
        })
    }

    /// The normalised document.
    pub fn to_doc(&self) -> BusinessHoursDoc {
        BusinessHoursDoc {
            time_zone: self.time_zone.name().to_owned(),
            weekly: self.weekly.to_doc(),
            closed_dates: dates_doc(&self.closed_dates),
            skills: self
                .skills
                .iter()
                .map(|(label, hours)| {
                    let doc = SkillHoursDoc {
                        weekly: hours.weekly.as_ref().map(Weekly::to_doc),
                        closed_dates: hours.closed_dates.as_ref().map(dates_doc),
                    };
                    (label.clone(), doc)
                })
                .collect(),
        }
    }
}

/// A skill label normalised as session skills are, so `Billing` here is the `billing`
/// a session asks for.
fn skill_label(raw: &str) -> Result<String> {
    let mut labels = inputs::skills("skills", &[raw.to_owned()])?;
    Ok(labels.pop().expect("one label in, one label out"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Result<BusinessHours> {
        let doc: BusinessHoursDoc = serde_json::from_value(value)
            .map_err(|e| Error::bad_request(format!("invalid JSON body: {e}")))?;
        BusinessHours::parse(&doc)
    }

    /// The message of the `bad_request` that `value` gets.
    fn refusal(value: serde_json::Value) -> String {
        let error = parse(value).expect_err("refused");
        assert_eq!(error.code, ErrorCode::BadRequest, "{error:?}");
        error.message
    }

    fn berlin_with(field: &str, value: serde_json::Value) -> serde_json::Value {
        let mut doc = json!({"time_zone": "Europe/Berlin"});
        doc[field] = value;
        doc
    }

    #[test]
    fn a_document_is_normalised_days_in_order_ranges_and_dates_sorted() {
        let hours = parse(json!({
            "time_zone": "Europe/Berlin",
            "weekly": {"sun": [], "tue": [["13:00", "17:30"], ["09:00", "12:00"]],
                       "mon": [["09:00", "24:00"]]},
            "closed_dates": ["2026-12-26", "2026-12-25", "2026-12-25"],
            "skills": {"Billing": {"closed_dates": ["2026-12-31"]},
                       "tax": {"weekly": {"fri": [["10:00", "11:00"]]}}},
        }))
        .unwrap();
        let doc = serde_json::to_string(&hours.to_doc()).unwrap();
        assert_eq!(
            doc,
            concat!(
                r#"{"time_zone":"Europe/Berlin","weekly":{"mon":[["09:00","24:00"]],"#,
                r#""tue":[["09:00","12:00"],["13:00","17:30"]],"wed":[],"thu":[],"fri":[],"#,
                r#""sat":[],"sun":[]},"closed_dates":["2026-12-25","2026-12-26"],"#,
                r#""skills":{"billing":{"closed_dates":["2026-12-31"]},"#,
                r#""tax":{"weekly":{"mon":[],"tue":[],"wed":[],"thu":[],"#,
                r#""fri":[["10:00","11:00"]],"sat":[],"sun":[]}}}}"#
            )
        );
        let again: BusinessHoursDoc = serde_json::from_str(&doc).unwrap();
        assert_eq!(BusinessHours::parse(&again).unwrap(), hours);
    }

    #[test]
    fn only_the_time_zone_is_required_and_a_missing_week_is_closed() {
        let hours = parse(json!({"time_zone": "America/New_York"})).unwrap();
        assert_eq!(hours.time_zone, chrono_tz::America::New_York);
        assert!((0..7).all(|day| hours.weekly.day(day).is_empty()));
        assert!(hours.closed_dates.is_empty() && hours.skills.is_empty());
        assert!(refusal(json!({"weekly": {}})).contains("time_zone"));
    }

    #[test]
    fn an_unknown_time_zone_is_refused() {
        let message = refusal(json!({"time_zone": "Mars/Olympus_Mons"}));
        assert!(message.starts_with("time_zone:"), "{message}");
        assert!(refusal(json!({"time_zone": "europe/berlin"})).starts_with("time_zone:"));
    }

    #[test]
    fn times_must_be_hh_mm_within_the_day() {
        for bad in [
            "9:00", "09:0", "25:00", "24:01", "12:60", "ab:cd", "0900", "", "-1:00",
        ] {
            let message = refusal(berlin_with("weekly", json!({"wed": [[bad, "23:00"]]})));
            assert!(message.starts_with("weekly.wed[0]:"), "{bad}: {message}");
            assert!(message.contains("HH:MM"), "{bad}: {message}");
        }
    }

    #[test]
    fn a_range_must_end_after_it_starts_and_may_end_at_midnight() {
        for (start, end) in [("17:00", "09:00"), ("09:00", "09:00"), ("24:00", "24:00")] {
            let message = refusal(berlin_with("weekly", json!({"mon": [[start, end]]})));
            assert!(message.starts_with("weekly.mon[0]:"), "{message}");
            assert!(message.contains("end after it starts"), "{message}");
        }
        let hours = parse(berlin_with("weekly", json!({"mon": [["00:00", "24:00"]]}))).unwrap();
        assert_eq!(hours.weekly.day(0)[0].end.minutes(), 1440);
    }

    #[test]
    fn ranges_of_one_day_may_touch_but_not_overlap() {
        let touching = json!({"thu": [["12:00", "17:00"], ["09:00", "12:00"]]});
        assert!(parse(berlin_with("weekly", touching)).is_ok());
        let overlapping = json!({"thu": [["12:00", "17:00"], ["09:00", "12:30"]]});
        let message = refusal(berlin_with("weekly", overlapping));
        assert_eq!(
            message,
            "weekly.thu: the ranges 09:00-12:30 and 12:00-17:00 overlap"
        );
    }

    #[test]
    fn a_day_holds_at_most_ten_ranges() {
        let range = |hour: usize| [format!("{hour:02}:00"), format!("{hour:02}:30")];
        let ten: Vec<_> = (0..10).map(range).collect();
        assert!(parse(berlin_with("weekly", json!({"sat": ten}))).is_ok());
        let eleven: Vec<_> = (0..11).map(range).collect();
        let message = refusal(berlin_with("weekly", json!({"sat": eleven})));
        assert_eq!(message, "weekly.sat: at most 10 ranges a day");
    }

    #[test]
    fn an_unknown_weekday_or_field_is_refused() {
        let message = refusal(berlin_with("weekly", json!({"monday": []})));
        assert!(message.contains("unknown field `monday`"), "{message}");
        let message = refusal(berlin_with("holidays", json!([])));
        assert!(message.contains("unknown field `holidays`"), "{message}");
        let message = refusal(berlin_with("weekly", json!({"mon": [["09:00"]]})));
        assert!(message.contains("invalid length 1"), "{message}");
    }

    #[test]
    fn closed_dates_must_be_dates_and_at_most_a_thousand() {
        for bad in ["2026-13-01", "2026-02-30", "25.12.2026", "2026-12-25T00:00"] {
            let message = refusal(berlin_with("closed_dates", json!(["2026-01-01", bad])));
            assert!(message.starts_with("closed_dates[1]:"), "{bad}: {message}");
        }
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let dates = |n: u64| -> Vec<String> {
            (0..n)
                .map(|i| (day + chrono::Days::new(i)).to_string())
                .collect()
        };
        assert!(parse(berlin_with("closed_dates", json!(dates(1000)))).is_ok());
        let message = refusal(berlin_with("closed_dates", json!(dates(1001))));
        assert_eq!(message, "closed_dates: at most 1000 dates");
    }

    #[test]
    fn skill_labels_are_normalised_and_their_schedules_checked() {
        let hours = parse(berlin_with("skills", json!({" Billing ": {}}))).unwrap();
        assert!(hours.skills.contains_key("billing"));
        let message = refusal(berlin_with("skills", json!({"no spaces": {}})));
        assert!(message.starts_with("skills:"), "{message}");
        let message = refusal(berlin_with("skills", json!({"Tax": {}, "tax": {}})));
        assert_eq!(message, r#"skills: "tax" is given twice"#);
        let bad_time = json!({"tax": {"weekly": {"fri": [["10:00", "9:00"]]}}});
        let message = refusal(berlin_with("skills", bad_time));
        assert!(
            message.starts_with("skills.tax.weekly.fri[0]:"),
            "{message}"
        );
        let bad_date = json!({"tax": {"closed_dates": ["tomorrow"]}});
        let message = refusal(berlin_with("skills", bad_date));
        assert!(
            message.starts_with("skills.tax.closed_dates[0]:"),
            "{message}"
        );
        let many: BTreeMap<String, serde_json::Value> =
            (0..51).map(|i| (format!("s{i}"), json!({}))).collect();
        assert_eq!(
            refusal(berlin_with("skills", json!(many))),
            "skills: at most 50 skills"
        );
    }
}
