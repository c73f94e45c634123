//! Business hours and availability (SPEC section 14): admins set a weekly schedule in a
//! time zone with closed dates, for the site and per skill; staff read it; the widget
//! asks `/availability`, without a token, whether a chat can start now: outside the
//! hours, or with nobody online who fits, it is told so (and when the hours open).

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Days, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use common::nats::{free_port, NatsServer};
use common::process::{ServerProcess, TestDatabase};
use common::ws::{Server, WsClient};
use common::TestApp;
use serde_json::{json, Value};

const HOURS: &str = "/api/v1/business-hours";

fn every_day(ranges: Value) -> Value {
    let mut weekly = json!({});
    for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
        weekly[day] = ranges.clone();
    }
    weekly
}

fn day_key(date: chrono::NaiveDate) -> &'static str {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [date.weekday().num_days_from_monday() as usize]
}

async fn set_hours(app: &TestApp, admin: &str, hours: Value) -> Value {
    let (status, body) = app.call("PUT", HOURS, Some(admin), Some(hours)).await;
    assert_eq!(status, 200, "{body}");
    body["business_hours"].clone()
}

/// `GET /availability` with `query`; returns the answer.
async fn availability(app: &TestApp, query: &str) -> Value {
    let (status, body) = app
        .call("GET", &format!("/api/v1/availability{query}"), None, None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A specialist with this profile, online on a console kept open by the returned client.
async fn online_specialist(app: &TestApp, admin: &str, email: &str, profile: Value) -> WsClient {
    let (_, token) = app.specialist(admin, email, profile).await;
    let mut console = WsClient::connect(app, &token).await;
    console.go_online().await;
    console
}

fn at(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().unwrap_or_else(|| panic!("a time: {value}"));
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

#[actix_web::test]
async fn admins_set_the_hours_and_staff_read_them_normalised() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, specialist) = app.specialist(&admin, "sam@example.com", json!({})).await;
    let (status, body) = app.get(HOURS, &specialist).await;
    assert_eq!((status, body), (200, json!({"business_hours": null})));

    let stored = set_hours(
        &app,
        &admin,
        json!({
            "time_zone": "Europe/Berlin",
            "weekly": {"tue": [["13:00", "17:30"], ["09:00", "12:00"]], "mon": [["09:00", "24:00"]]},
            "closed_dates": ["2026-12-26", "2026-12-25"],
            "skills": {"Billing": {"closed_dates": ["2026-12-31"]}},
        }),
    )
    .await;
    let normalised = json!({
        "time_zone": "Europe/Berlin",
        "weekly": {"mon": [["09:00", "24:00"]], "tue": [["09:00", "12:00"], ["13:00", "17:30"]],
                   "wed": [], "thu": [], "fri": [], "sat": [], "sun": []},
        "closed_dates": ["2026-12-25", "2026-12-26"],
        "skills": {"billing": {"closed_dates": ["2026-12-31"]}},
    });
    assert_eq!(stored, normalised);
    let (status, body) = app.get(HOURS, &specialist).await;
    assert_eq!(status, 200);
    assert_eq!(body["business_hours"], normalised);

    // A PUT replaces the whole schedule.
    let replaced = set_hours(&app, &admin, json!({"time_zone": "UTC"})).await;
    assert_eq!(replaced["skills"], json!({}));
    assert_eq!(replaced["closed_dates"], json!([]));
    assert_eq!(app.get(HOURS, &admin).await.1["business_hours"], replaced);
    assert_eq!(availability(&app, "").await["reason"], "outside_hours");

    // A DELETE removes it: always open again.
    let (status, body) = app.call("DELETE", HOURS, Some(&admin), None).await;
    assert_eq!((status, body), (200, json!({"business_hours": null})));
    assert_eq!(
        app.get(HOURS, &specialist).await.1["business_hours"],
        Value::Null
    );
    assert_eq!(availability(&app, "").await["reason"], "nobody_online");
}

#[actix_web::test]
async fn only_admins_change_the_hours_and_only_staff_read_them() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, specialist) = app.specialist(&admin, "sam@example.com", json!({})).await;
    let (_, visitor) = app.visitor("Vera").await;
    let (_, bot) = app.bot(&admin, "helper").await;
    let hours = json!({"time_zone": "Europe/Berlin"});
    let invalid = json!({"time_zone": "Nowhere/Special"});

    for (token, expected) in [
        (Some(&specialist), 403),
        (Some(&visitor), 403),
        (Some(&bot), 403),
        (None, 401),
    ] {
        for body in [&hours, &invalid] {
            let (status, answer) = app
                .call("PUT", HOURS, token.map(String::as_str), Some(body.clone()))
                .await;
            assert_eq!(status, expected, "{answer}");
        }
        let (status, answer) = app
            .call("DELETE", HOURS, token.map(String::as_str), None)
            .await;
        assert_eq!(status, expected, "{answer}");
    }
    for (token, expected) in [(Some(&visitor), 403), (Some(&bot), 403), (None, 401)] {
        let (status, answer) = app
            .call("GET", HOURS, token.map(String::as_str), None)
            .await;
        assert_eq!(status, expected, "{answer}");
    }
    assert_eq!(
        app.get(HOURS, &admin).await.1["business_hours"],
        Value::Null
    );
}

#[actix_web::test]
async fn invalid_hours_are_refused_naming_the_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let kept = set_hours(&app, &admin, json!({"time_zone": "Europe/Berlin"})).await;
    for (hours, field) in [
        (json!({"time_zone": "Europe/Atlantis"}), "time_zone"),
        (json!({"weekly": {}}), "time_zone"),
        (
            json!({"time_zone": "UTC", "weekly": {"mon": [["9:00", "17:00"]]}}),
            "weekly.mon[0]",
        ),
        (
            json!({"time_zone": "UTC", "weekly": {"fri": [["17:00", "09:00"]]}}),
            "weekly.fri[0]",
        ),
        (
            json!({"time_zone": "UTC", "weekly": {"wed": [["09:00", "13:00"], ["12:00", "17:00"]]}}),
            "weekly.wed",
        ),
        (
            json!({"time_zone": "UTC", "weekly": {"someday": []}}),
            "someday",
        ),
        (
            json!({"time_zone": "UTC", "closed_dates": ["2026-02-30"]}),
            "closed_dates[0]",
        ),
        (
            json!({"time_zone": "UTC", "skills": {"tax": {"weekly": {"sat": [["10:00", "25:00"]]}}}}),
            "skills.tax.weekly.sat[0]",
        ),
    ] {
        let (status, body) = app
            .call("PUT", HOURS, Some(&admin), Some(hours.clone()))
            .await;
        assert_eq!(status, 400, "{hours}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{hours}: {message}");
    }
    assert_eq!(app.get(HOURS, &admin).await.1["business_hours"], kept);
}

#[actix_web::test]
async fn without_hours_the_chat_is_open_when_someone_who_fits_is_online() {
    let app = TestApp::spawn_with(&["--leave-message-after-secs", "90"]).await;
    let admin = app.admin_token().await;
    let answer = availability(&app, "").await;
    assert_eq!(
        answer,
        json!({"open": false, "reason": "nobody_online", "leave_message_after_secs": 90})
    );

    let _console = online_specialist(&app, &admin, "sam@example.com", json!({})).await;
    let answer = availability(&app, "").await;
    assert_eq!(answer["open"], true, "{answer}");
    assert!(answer.get("reason").is_none(), "{answer}");
    assert!(answer["estimated_wait_secs"].is_u64(), "{answer}");
    assert_eq!(answer["leave_message_after_secs"], 90);

    // Asked by the widget on another site: never cached, readable by the page.
    let response = app
        .client
        .get(app.url("/api/v1/availability"))
        .insert_header(("Origin", "https://shop.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
    assert_eq!(header("cache-control"), Some("no-store"));
    assert_eq!(
        header("access-control-allow-origin"),
        Some("https://shop.example")
    );
}

#[actix_web::test]
async fn an_address_checking_too_often_is_slowed_down() {
    let app = TestApp::spawn_with(&["--availability-per-minute", "3"]).await;
    let check = || app.client.get(app.url("/api/v1/availability")).send();
    for _ in 0..3 {
        assert_eq!(check().await.unwrap().status(), 200);
    }
    let refused = check().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
}

#[actix_web::test]
async fn nobody_online_when_no_online_specialist_has_the_skills_and_language() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    set_hours(
        &app,
        &admin,
        json!({"time_zone": "UTC", "weekly": every_day(json!([["00:00", "24:00"]]))}),
    )
    .await;
    let profile = json!({"skills": ["billing"], "languages": ["en", "de"]});
    let mut console = online_specialist(&app, &admin, "sam@example.com", profile).await;
    // A specialist who would fit but is not online does not count.
    let offline = json!({"skills": ["billing", "tax"], "languages": ["fr"]});
    app.specialist(&admin, "off@example.com", offline).await;

    for query in [
        "?skills=billing",
        "?skills=Billing&language=de",
        "?language=en",
    ] {
        assert_eq!(availability(&app, query).await["open"], true, "{query}");
    }
    for query in ["?skills=tax", "?skills=billing,tax", "?language=fr"] {
        let answer = availability(&app, query).await;
        assert_eq!(answer["open"], false, "{query}");
        assert_eq!(answer["reason"], "nobody_online", "{query}");
        assert!(answer.get("estimated_wait_secs").is_none(), "{answer}");
    }
    console.set_status("away").await;
    assert_eq!(
        availability(&app, "?skills=billing").await["reason"],
        "nobody_online"
    );
}

/// A zone and one about half a day away, such that the local time in the first is not
/// within an hour and a bit of midnight (so a two-hour window around it stays in one
/// day); `now` in both.
fn zones_half_a_day_apart(now: DateTime<Utc>) -> (Tz, Tz) {
    let berlin = chrono_tz::Europe::Berlin;
    let auckland = chrono_tz::Pacific::Auckland;
    let hour = now.with_timezone(&berlin).hour();
    if (2..22).contains(&hour) {
        (berlin, auckland)
    } else {
        (auckland, berlin)
    }
}

#[actix_web::test]
async fn the_same_hours_are_open_in_one_time_zone_and_closed_in_another() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let _console = online_specialist(&app, &admin, "sam@example.com", json!({})).await;
    let now = Utc::now();
    let (here, away) = zones_half_a_day_apart(now);

    // Two hours around the local time here, on today's weekday here.
    let local = now.with_timezone(&here);
    let minute = NaiveTime::from_hms_opt(local.hour(), local.minute(), 0).unwrap();
    let start = minute - chrono::Duration::hours(1);
    let end = start + chrono::Duration::hours(2);
    let weekday = day_key(local.date_naive());
    let range = json!([[
        start.format("%H:%M").to_string(),
        end.format("%H:%M").to_string()
    ]]);
    let mut weekly = json!({});
    weekly[weekday] = range;

    set_hours(
        &app,
        &admin,
        json!({"time_zone": here.name(), "weekly": weekly}),
    )
    .await;
    let answer = availability(&app, "").await;
    assert_eq!(answer["open"], true, "{} {answer}", here.name());

    set_hours(
        &app,
        &admin,
        json!({"time_zone": away.name(), "weekly": weekly}),
    )
    .await;
    let answer = availability(&app, "").await;
    assert_eq!(answer["open"], false, "{} {answer}", away.name());
    assert_eq!(answer["reason"], "outside_hours");
    // The next time that weekday's range starts over there.
    let today_away = now.with_timezone(&away).date_naive();
    let expected = (0..8)
        .map(|days| today_away + Days::new(days))
        .filter(|date| day_key(*date) == weekday)
        .filter_map(|date| away.from_local_datetime(&date.and_time(start)).earliest())
        .map(|opening| opening.to_utc())
        .find(|opening| *opening > now)
        .expect("an opening within a week");
    assert_eq!(at(&answer["next_open_at"]), expected);
}

#[actix_web::test]
async fn a_closed_date_closes_the_whole_local_day() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let _console = online_specialist(&app, &admin, "sam@example.com", json!({})).await;
    let zone = chrono_tz::America::New_York;
    let today = Utc::now().with_timezone(&zone).date_naive();
    let weekly = every_day(json!([["00:00", "24:00"]]));
    let hours = json!({"time_zone": "America/New_York", "weekly": weekly,
                       "closed_dates": [today.to_string()]});
    set_hours(&app, &admin, hours).await;

    let answer = availability(&app, "").await;
    assert_eq!(answer["open"], false, "{answer}");
    assert_eq!(answer["reason"], "outside_hours");
    let tomorrow = zone
        .from_local_datetime(&today.succ_opt().unwrap().and_time(NaiveTime::MIN))
        .earliest()
        .unwrap();
    assert_eq!(at(&answer["next_open_at"]), tomorrow.to_utc());
}

#[actix_web::test]
async fn a_skills_own_hours_replace_the_sites() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let profile = json!({"skills": ["billing", "night", "chat"]});
    let _console = online_specialist(&app, &admin, "sam@example.com", profile).await;
    // The site is closed every day; billing is open every day; night never opens.
    let hours = json!({"time_zone": "Asia/Tokyo", "skills": {
        "billing": {"weekly": every_day(json!([["00:00", "24:00"]]))},
        "night": {"weekly": {}},
    }});
    set_hours(&app, &admin, hours).await;

    assert_eq!(availability(&app, "?skills=billing").await["open"], true);
    let site = availability(&app, "").await;
    assert_eq!(
        (&site["open"], &site["reason"]),
        (&json!(false), &json!("outside_hours"))
    );
    assert!(site.get("next_open_at").is_none(), "never opens: {site}");
    let both = availability(&app, "?skills=billing,night").await;
    assert_eq!(both["reason"], "outside_hours", "{both}");
    // A skill without hours of its own leaves the decision to the others asked.
    assert_eq!(
        availability(&app, "?skills=billing,chat").await["open"],
        true
    );
}

/// Asks `GET /availability` of `node` until `expected` holds, for up to `within`.
async fn availability_until(
    node: &impl Server,
    query: &str,
    within: Duration,
    expected: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let url = format!("{}/api/v1/availability{query}", node.address());
        let mut response = node.client().get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.unwrap();
        if expected(&answer) {
            return answer;
        }
        assert!(Instant::now() < deadline, "{query}: still {answer}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn every_node_of_a_cluster_answers_for_the_whole_cluster_with_the_latest_hours() {
    let nats_port = free_port();
    let _nats = NatsServer::start(nats_port);
    let database = TestDatabase::fresh();
    let nats = format!("nats://127.0.0.1:{nats_port}");
    let mut nodes = Vec::new();
    for name in ["node-1", "node-2"] {
        let flags = ["--nats-url", nats.as_str(), "--node-id", name];
        nodes.push(ServerProcess::start(&database.name, &flags).await);
    }
    let (_, admin) = nodes[0]
        .new_specialist("admin@example.com", json!({"role": "admin"}))
        .await;
    let (_, specialist) = nodes[0]
        .new_specialist("sam@example.com", json!({"skills": ["billing"]}))
        .await;
    let mut console = WsClient::connect(&nodes[0], &specialist).await;
    console.go_online().await;

    // One node runs the dispatcher; the other asks it who is online.
    let soon = Duration::from_secs(5);
    for node in &nodes {
        let open = |answer: &Value| answer["open"] == true;
        availability_until(node, "?skills=billing", soon, open).await;
        let nobody = |answer: &Value| answer["reason"] == "nobody_online";
        availability_until(node, "?skills=tax", soon, nobody).await;
    }

    // Hours set on one node hold on the other within two seconds (and the moment it
    // takes to ask).
    let url = format!("{}{HOURS}", nodes[0].address());
    let response = nodes[0]
        .client()
        .put(url)
        .bearer_auth(&admin)
        .send_json(&json!({"time_zone": "UTC"}))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let outside = |answer: &Value| answer["reason"] == "outside_hours";
    availability_until(&nodes[1], "", Duration::from_secs(3), outside).await;
}

#[actix_web::test]
async fn invalid_skills_or_language_are_refused() {
    let app = TestApp::spawn().await;
    for query in ["?skills=no%20spaces", "?skills=billing,%2A", "?language=d3"] {
        let (status, body) = app
            .call("GET", &format!("/api/v1/availability{query}"), None, None)
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
    }
}
