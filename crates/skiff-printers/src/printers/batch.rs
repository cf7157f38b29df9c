//! Jobs and cron jobs.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::column::Column;
use crate::descriptions as d;
use crate::duration::human_duration;
use crate::format::{container_cells, format_label_selector};
use crate::json::{
    age, arr_at, get, i64_at, is_deleting, name, opt_bool, opt_i64, opt_str, s, since, str_at,
    time_at,
};

const CONTAINERS: Column = Column::new(
    "Containers",
    "string",
    "Names of each container in the template.",
)
.wide();
const IMAGES: Column = Column::new(
    "Images",
    "string",
    "Images referenced by each container in the template.",
)
.wide();

/// Job columns.
pub(crate) fn job_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Status", "string", "Status of the job."),
        Column::new("Completions", "string", d::JOB_SUCCEEDED),
        Column::new("Duration", "string", "Time required to complete the job."),
        Column::age(),
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", d::JOB_SELECTOR).wide(),
    ]
}

/// hasJobCondition: the first condition of that type decides.
fn has_condition(job: &Value, type_: &str) -> bool {
    arr_at(job, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == type_)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

/// Job cells: STATUS, COMPLETIONS "1/3" (or "0/1 of 4" for work queues), DURATION.
pub(crate) fn job_cells(job: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let succeeded = i64_at(job, &["status", "succeeded"]);
    let completions = match opt_i64(job, &["spec", "completions"]) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match opt_i64(job, &["spec", "parallelism"]).unwrap_or(0) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let start = time_at(job, &["status", "startTime"]);
    let completion = time_at(job, &["status", "completionTime"]);
    let duration = match (start, completion) {
        (None, _) => String::new(),
        (Some(st), None) => human_duration(now.signed_duration_since(st)),
        (Some(st), Some(done)) => human_duration(done.signed_duration_since(st)),
    };
    let status = if has_condition(job, "Complete") {
        "Complete"
    } else if has_condition(job, "Failed") {
        "Failed"
    } else if is_deleting(job) {
        "Terminating"
    } else if has_condition(job, "Suspended") {
        "Suspended"
    } else if has_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = container_cells(arr_at(job, &["spec", "template", "spec", "containers"]));
    vec![
        s(name(job)),
        s(status),
        s(completions),
        s(duration),
        s(age(job, now)),
        s(names),
        s(images),
        s(format_label_selector(get(job, &["spec", "selector"]))),
    ]
}

/// CronJob columns.
pub(crate) fn cron_job_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Schedule", "string", d::CRONJOB_SCHEDULE),
        Column::new("Timezone", "string", d::CRONJOB_TIME_ZONE),
        Column::new("Suspend", "boolean", d::CRONJOB_SUSPEND),
        Column::new("Active", "integer", d::CRONJOB_ACTIVE),
        Column::new("Last Schedule", "string", d::CRONJOB_LAST_SCHEDULE),
        Column::age(),
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", d::JOB_SELECTOR).wide(),
    ]
}

/// CronJob cells. SUSPEND is the string "True"/"False"/"<unset>" although the
/// column says boolean: upstream's printBoolPtr.
pub(crate) fn cron_job_cells(cj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let last_schedule = match time_at(cj, &["status", "lastScheduleTime"]) {
        Some(t) => since(Some(t), now),
        None if get(cj, &["status", "lastScheduleTime"]).is_some() => since(None, now),
        None => "<none>".to_string(),
    };
    let suspend = match opt_bool(cj, &["spec", "suspend"]) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let job_spec = get(cj, &["spec", "jobTemplate", "spec"]).unwrap_or(&Value::Null);
    let (names, images) = container_cells(arr_at(job_spec, &["template", "spec", "containers"]));
    vec![
        s(name(cj)),
        s(str_at(cj, &["spec", "schedule"])),
        s(opt_str(cj, &["spec", "timeZone"]).unwrap_or("<none>")),
        s(suspend),
        Value::from(arr_at(cj, &["status", "active"]).len() as i64),
        s(last_schedule),
        s(age(cj, now)),
        s(names),
        s(images),
        s(format_label_selector(get(job_spec, &["selector"]))),
    ]
}
