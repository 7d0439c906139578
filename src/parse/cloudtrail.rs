//! AWS CloudTrail events. The `source` module frames the input (a
//! `{"Records":[...]}` document, a JSON array, or one object per line) into
//! single events; this parser reads one event, borrowing its strings.
//!
//! `service` is `eventSource`, `message` is `eventName`, `user` comes from
//! `userIdentity` (see [`user_of`]). Insight events carry their source and
//! name in `insightDetails`.

use super::time::{Timestamp, Tz};
use super::{excerpt, Outcome, Parser, Record, Severity, Value};
use serde::Deserialize;
use std::borrow::Cow;

pub struct CloudtrailParser {
    /// Overrides `eventSource` as the service when set.
    service: Option<String>,
}

impl CloudtrailParser {
    pub fn new(service: Option<String>) -> Self {
        CloudtrailParser { service }
    }
}

type S<'a> = Option<Cow<'a, str>>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(borrow)]
    event_time: S<'a>,
    #[serde(borrow)]
    event_source: S<'a>,
    #[serde(borrow)]
    event_name: S<'a>,
    #[serde(borrow)]
    aws_region: S<'a>,
    #[serde(borrow, rename = "sourceIPAddress")]
    source_ip_address: S<'a>,
    #[serde(borrow)]
    user_agent: S<'a>,
    #[serde(borrow, rename = "eventID")]
    event_id: S<'a>,
    #[serde(borrow, rename = "requestID")]
    request_id: S<'a>,
    #[serde(borrow)]
    event_type: S<'a>,
    #[serde(borrow)]
    event_category: S<'a>,
    #[serde(borrow)]
    error_code: S<'a>,
    #[serde(borrow)]
    error_message: S<'a>,
    #[serde(borrow)]
    recipient_account_id: S<'a>,
    #[serde(borrow)]
    user_identity: Option<Identity<'a>>,
    #[serde(borrow)]
    insight_details: Option<Insight<'a>>,
    /// Kept as written (JSON text) for the rules that read into them.
    #[serde(borrow)]
    request_parameters: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    response_elements: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    additional_event_data: Option<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identity<'a> {
    #[serde(borrow, rename = "type")]
    kind: S<'a>,
    #[serde(borrow)]
    user_name: S<'a>,
    #[serde(borrow)]
    principal_id: S<'a>,
    #[serde(borrow)]
    arn: S<'a>,
    #[serde(borrow)]
    account_id: S<'a>,
    #[serde(borrow)]
    invoked_by: S<'a>,
    #[serde(borrow)]
    session_context: Option<SessionContext<'a>>,
    #[serde(borrow)]
    on_behalf_of: Option<OnBehalfOf<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionContext<'a> {
    #[serde(borrow)]
    session_issuer: Option<Issuer<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Issuer<'a> {
    #[serde(borrow)]
    user_name: S<'a>,
    #[serde(borrow, rename = "type")]
    kind: S<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OnBehalfOf<'a> {
    #[serde(borrow)]
    user_id: S<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Insight<'a> {
    #[serde(borrow)]
    event_source: S<'a>,
    #[serde(borrow)]
    event_name: S<'a>,
    #[serde(borrow)]
    insight_type: S<'a>,
    #[serde(borrow)]
    state: S<'a>,
}

/// The acting user: `userName` (IAMUser, WebIdentityUser, SAMLUser...); for
/// AssumedRole and FederatedUser the session issuer's `userName`; `root` for
/// Root; `invokedBy` for AWSService; `onBehalfOf.userId` for
/// IdentityCenterUser; else the principal id. Identities without a `type`
/// (service events) fall through the same chain.
fn user_of<'a>(id: Identity<'a>) -> (S<'a>, S<'a>, S<'a>, S<'a>) {
    let issuer = || id.session_context.as_ref()?.session_issuer.as_ref()?.user_name.clone();
    let user = match id.kind.as_deref() {
        Some("Root") => Some(Cow::Borrowed("root")),
        Some("AssumedRole" | "FederatedUser") => issuer().or_else(|| id.user_name.clone()),
        Some("AWSService") => id.invoked_by.clone(),
        Some("IdentityCenterUser") => id.on_behalf_of.as_ref().and_then(|o| o.user_id.clone()),
        _ => None,
    };
    let user = user
        .or_else(|| id.user_name.clone())
        .or_else(issuer)
        .or_else(|| id.invoked_by.clone())
        .or_else(|| id.on_behalf_of.as_ref().and_then(|o| o.user_id.clone()))
        .or_else(|| id.principal_id.clone());
    (user, id.kind, id.arn, id.account_id)
}

impl Parser for CloudtrailParser {
    fn parse<'a>(&'a self, unit: &'a [u8]) -> Outcome<'a> {
        let unit = unit.trim_ascii();
        if unit.is_empty() {
            return Outcome::Skip;
        }
        let ev: Event<'a> = match serde_json::from_slice(unit) {
            Ok(ev) => ev,
            Err(e) => {
                return Outcome::Reject(format!(
                    "invalid CloudTrail event: {e} in {}",
                    excerpt(unit)
                ))
            }
        };
        let Some(time) = ev.event_time.as_deref() else {
            return Outcome::Reject("CloudTrail event has no eventTime".into());
        };
        let Some(ts) = Timestamp::parse_rfc3339(time, &Tz::default()) else {
            return Outcome::Reject(format!(
                "eventTime {} is not an RFC 3339 time",
                excerpt(time.as_bytes())
            ));
        };
        let (insight_source, insight_name, insight_type, insight_state) = match ev.insight_details {
            Some(i) => (i.event_source, i.event_name, i.insight_type, i.state),
            None => (None, None, None, None),
        };
        let issuer_type = ev
            .user_identity
            .as_ref()
            .and_then(|id| id.session_context.as_ref()?.session_issuer.as_ref()?.kind.clone());
        let (user, identity_type, arn, account_id) = match ev.user_identity {
            Some(id) => user_of(id),
            None => (None, None, None, None),
        };
        let service = match &self.service {
            Some(s) => Cow::Borrowed(s.as_str()),
            None => ev.event_source.or(insight_source).unwrap_or(Cow::Borrowed("cloudtrail")),
        };
        let message = ev.event_name.or(insight_name).unwrap_or(Cow::Borrowed(""));
        let severity = if ev.error_code.is_some() { Severity::Warn } else { Severity::Info };
        let mut fields = vec![
            (Cow::Borrowed("region"), Value::opt_str(ev.aws_region)),
            (Cow::Borrowed("source_ip"), Value::opt_str(ev.source_ip_address)),
            (Cow::Borrowed("user_agent"), Value::opt_str(ev.user_agent)),
            (Cow::Borrowed("event_id"), Value::opt_str(ev.event_id)),
            (Cow::Borrowed("request_id"), Value::opt_str(ev.request_id)),
            (Cow::Borrowed("event_type"), Value::opt_str(ev.event_type)),
            (Cow::Borrowed("error_code"), Value::opt_str(ev.error_code)),
            (Cow::Borrowed("error_message"), Value::opt_str(ev.error_message)),
            (Cow::Borrowed("account_id"), Value::opt_str(account_id.or(ev.recipient_account_id))),
            (Cow::Borrowed("identity_type"), Value::opt_str(identity_type)),
            (Cow::Borrowed("arn"), Value::opt_str(arn)),
        ];
        if ev.event_category.is_some() {
            fields.push((Cow::Borrowed("event_category"), Value::opt_str(ev.event_category)));
        }
        // The parts of the event that only some rules read, when there:
        // the request's parameters, the response and the additional data
        // as the event wrote them (JSON text), the session's issuer type.
        for (key, raw) in [
            ("request_parameters", ev.request_parameters),
            ("response_elements", ev.response_elements),
            ("additional_event_data", ev.additional_event_data),
        ] {
            if let Some(raw) = raw.filter(|r| r.get() != "null") {
                fields.push((Cow::Borrowed(key), Value::str(raw.get())));
            }
        }
        if let Some(t) = issuer_type {
            fields.push((Cow::Borrowed("session_issuer_type"), Value::str(t)));
        }
        if insight_type.is_some() || insight_state.is_some() {
            fields.push((Cow::Borrowed("insight_type"), Value::opt_str(insight_type)));
            fields.push((Cow::Borrowed("insight_state"), Value::opt_str(insight_state)));
        }
        Outcome::Record(Record {
            auth_role: None,
            ts: Some(ts),
            service,
            host: None,
            severity: Some(severity),
            message,
            user,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Record<'_> {
        let p = Box::leak(Box::new(CloudtrailParser::new(None)));
        match p.parse(json.as_bytes()) {
            Outcome::Record(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn user_per_identity_type() {
        let cases = [
            (r#"{"type":"IAMUser","userName":"alice"}"#, Some("alice")),
            (r#"{"type":"Root","arn":"arn:aws:iam::1:root"}"#, Some("root")),
            (
                r#"{"type":"AssumedRole","principalId":"AROA:s","sessionContext":{"sessionIssuer":{"userName":"deployer"}}}"#,
                Some("deployer"),
            ),
            (r#"{"type":"AWSService","invokedBy":"ec2.amazonaws.com"}"#, Some("ec2.amazonaws.com")),
            (
                r#"{"type":"IdentityCenterUser","onBehalfOf":{"userId":"u-1","identityStoreArn":"x"}}"#,
                Some("u-1"),
            ),
            (
                r#"{"type":"WebIdentityUser","principalId":"accounts.google.com:app:id","userName":"id"}"#,
                Some("id"),
            ),
            (
                r#"{"invokedBy":"secretsmanager.amazonaws.com"}"#,
                Some("secretsmanager.amazonaws.com"),
            ),
            (r#"{"accountId":"123"}"#, None),
        ];
        for (identity, want) in cases {
            let json = format!(
                r#"{{"eventTime":"2023-07-10T11:42:18Z","eventSource":"iam.amazonaws.com","eventName":"X","userIdentity":{identity}}}"#
            );
            let r = parse(Box::leak(json.into_boxed_str()));
            assert_eq!(r.user.as_deref(), want, "{identity}");
        }
    }

    #[test]
    fn insight_event() {
        let r = parse(
            r#"{"eventVersion":"1.07","eventTime":"2023-07-10T11:00:00Z","awsRegion":"us-east-1","eventID":"e","eventType":"AwsCloudTrailInsight","recipientAccountId":"1","insightDetails":{"state":"Start","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","insightType":"ApiCallRateInsight"},"eventCategory":"Insight"}"#,
        );
        assert_eq!(r.service, "ec2.amazonaws.com");
        assert_eq!(r.message, "RunInstances");
        assert_eq!(r.field("insight_state").and_then(Value::as_str), Some("Start"));
    }

    #[test]
    fn error_code_is_warn_and_missing_time_is_reject() {
        let r = parse(
            r#"{"eventTime":"2023-07-10T11:42:18Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","errorCode":"AccessDenied"}"#,
        );
        assert_eq!(r.severity, Some(Severity::Warn));
        let p = CloudtrailParser::new(None);
        let Outcome::Reject(e) = p.parse(br#"{"eventName":"X"}"#) else { panic!() };
        assert_eq!(e, "CloudTrail event has no eventTime");
    }
}
