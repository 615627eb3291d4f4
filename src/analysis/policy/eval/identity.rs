//! The identities a probe account calls as (spec §6): its root, the principals the policy
//! names in it, and, when the policy reads identity keys, a role session and a user it names
//! itself, with instances of the policy's principal ARN and `aws:userid` patterns.
//!
//! Owns the identity values (ARN, session ARN, user id, `aws:username`) and their cap; the
//! accounts themselves come from [`super::world`].

use super::super::glob;
use super::super::principal;
use super::harvest::{Harvest, in_account, pick_fresh};

const MAX_IDENTS_PER_ACCOUNT: usize = 6;

/// One identity a probe account can call as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ident {
    /// `aws:PrincipalArn`.
    pub arn: String,
    /// The session ARN a role session also matches as a principal.
    pub sts: Option<String>,
    pub userid: String,
    /// `aws:username`, which only IAM users carry.
    pub username: UserName,
}

/// The `aws:username` of an identity (IAM global condition keys: present for IAM users
/// only; role sessions, federated users, root users and services do not carry it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum UserName {
    NotAUser,
    /// A user the outsider creates and names as it likes.
    Chosen(String),
    /// A user the policy names.
    Fixed(String),
}

impl UserName {
    /// The name, for the `${aws:username}` policy variable.
    pub fn name(&self) -> Option<&str> {
        match self {
            UserName::NotAUser => None,
            UserName::Chosen(n) | UserName::Fixed(n) => Some(n),
        }
    }
}

const FRESH_ROLE_IDS: [&str; 3] = [
    "AROAQ7ZK3PROBEX2W4N1",
    "AROAV8YJ2FRESHW3X5M0",
    "AROAU9XH1OTHERV4Y6L9",
];
const FRESH_USER_IDS: [&str; 3] = [
    "AIDAQ7ZK3PROBEX2W4N1",
    "AIDAV8YJ2FRESHW3X5M0",
    "AIDAU9XH1OTHERV4Y6L9",
];

/// The identities an outsider account can call as: its root, the principals the policy names
/// in it, and (when the policy looks at identity keys) a role session and a user whose names
/// it picks, plus instances of the policy's principal ARN patterns.
pub(super) struct IdentityPlan<'h, 'a> {
    h: &'h Harvest<'a>,
    role_id: &'static str,
    user_id: &'static str,
    /// PrincipalArn patterns with a fixed account (sorted by it) and with a pattern account.
    arn_pats_fixed: Vec<[&'a str; 6]>,
    arn_pats_any: Vec<[&'a str; 6]>,
    /// Role-session names from `aws:userid` patterns on the probe role's id.
    sessions: Vec<String>,
}

impl<'h, 'a> IdentityPlan<'h, 'a> {
    pub(super) fn new(h: &'h Harvest<'a>) -> Self {
        let uid_pats: Vec<&str> = h
            .userid_pats
            .iter()
            .map(|p| p.split(':').next().unwrap_or(""))
            .collect();
        let role_id = pick_fresh::<&str>(&FRESH_ROLE_IDS, &[], &uid_pats, 4);
        let user_id = pick_fresh::<&str>(&FRESH_USER_IDS, &[], &uid_pats, 4);
        let (mut arn_pats_any, mut arn_pats_fixed) = (Vec::new(), Vec::new());
        for parts in h
            .principal_arn_pats
            .iter()
            .filter_map(|p| principal::arn_parts(p))
        {
            if glob::is_pattern(parts[4]) {
                arn_pats_any.push(parts);
            } else {
                arn_pats_fixed.push(parts);
            }
        }
        arn_pats_fixed.sort_by_key(|p| p[4]);
        let mut sessions: Vec<String> = h
            .userid_pats
            .iter()
            .filter_map(|u| u.split_once(':'))
            .filter(|(uid, _)| glob::matches(uid, role_id))
            .map(|(_, session)| glob::instantiate(session, "x", 'x'))
            .collect();
        sessions.sort_unstable();
        sessions.dedup();
        sessions.truncate(MAX_IDENTS_PER_ACCOUNT);
        IdentityPlan {
            h,
            role_id,
            user_id,
            arn_pats_fixed,
            arn_pats_any,
            sessions,
        }
    }

    pub(super) fn idents(&self, a: &str) -> Vec<Ident> {
        let mut out = vec![Ident {
            arn: format!("arn:aws:iam::{a}:root"),
            sts: None,
            userid: a.to_string(),
            username: UserName::NotAUser,
        }];
        let specifics = &self.h.specifics;
        let lo = specifics.partition_point(|(x, _)| *x < a);
        let hi = specifics.partition_point(|(x, _)| *x <= a);
        for &(_, arn) in &specifics[lo..hi] {
            if out.len() >= MAX_IDENTS_PER_ACCOUNT {
                break;
            }
            add_ident(&mut out, self.for_arn(arn, false));
        }
        if !self.h.uses_identity {
            return out;
        }
        add_ident(&mut out, self.role_session(a, "x"));
        add_ident(
            &mut out,
            Ident {
                arn: format!("arn:aws:iam::{a}:user/x"),
                sts: None,
                userid: self.user_id.to_string(),
                username: UserName::Chosen("x".to_string()),
            },
        );
        let lo = self.arn_pats_fixed.partition_point(|p| p[4] < a);
        let hi = self.arn_pats_fixed.partition_point(|p| p[4] <= a);
        for parts in self.arn_pats_fixed[lo..hi].iter().chain(&self.arn_pats_any) {
            if out.len() >= MAX_IDENTS_PER_ACCOUNT {
                break;
            }
            if glob::matches(parts[4], a) {
                let chosen = glob::is_pattern(parts[5]);
                add_ident(&mut out, self.for_arn(&in_account(parts, a), chosen));
            }
        }
        for s in &self.sessions {
            if out.len() >= MAX_IDENTS_PER_ACCOUNT {
                break;
            }
            add_ident(&mut out, self.role_session(a, s));
        }
        out
    }

    /// Role `x` of account `a` in session `session`.
    fn role_session(&self, a: &str, session: &str) -> Ident {
        Ident {
            arn: format!("arn:aws:iam::{a}:role/x"),
            sts: Some(format!("arn:aws:sts::{a}:assumed-role/x/{session}")),
            userid: format!("{}:{session}", self.role_id),
            username: UserName::NotAUser,
        }
    }

    /// The identity a principal ARN stands for; `chosen`: the outsider picked its name
    /// (an instance of a pattern), so a user's `aws:username` is its to choose.
    fn for_arn(&self, arn: &str, chosen: bool) -> Ident {
        let parts = principal::arn_parts(arn).unwrap_or([""; 6]);
        let (partition, account, res) = (parts[1], parts[4], parts[5]);
        if let Some(rest) = res.strip_prefix("assumed-role/") {
            let (role, session) = rest.split_once('/').unwrap_or((rest, "x"));
            return Ident {
                arn: format!("arn:{partition}:iam::{account}:role/{role}"),
                sts: Some(arn.to_string()),
                userid: format!("{}:{session}", self.role_id),
                username: UserName::NotAUser,
            };
        }
        if let Some(rest) = res.strip_prefix("user/") {
            let name = rest.rsplit('/').next().unwrap_or(rest);
            return Ident {
                arn: arn.to_string(),
                sts: None,
                userid: self.user_id.to_string(),
                username: if chosen {
                    UserName::Chosen(name.to_string())
                } else {
                    UserName::Fixed(name.to_string())
                },
            };
        }
        if let Some(rest) = res.strip_prefix("federated-user/") {
            // GetFederationToken sessions: the user id is the account and the name.
            return Ident {
                arn: arn.to_string(),
                sts: None,
                userid: format!("{account}:{rest}"),
                username: UserName::NotAUser,
            };
        }
        if res == "root" {
            return Ident {
                arn: arn.to_string(),
                sts: None,
                userid: account.to_string(),
                username: UserName::NotAUser,
            };
        }
        let sts = res.strip_prefix("role/").map(|r| {
            let name = r.rsplit('/').next().unwrap_or(r);
            format!("arn:{partition}:sts::{account}:assumed-role/{name}/x")
        });
        Ident {
            arn: arn.to_string(),
            sts,
            userid: format!("{}:x", self.role_id),
            username: UserName::NotAUser,
        }
    }
}

/// Keeps `id` unless the account has enough identities or an equal one.
fn add_ident(out: &mut Vec<Ident>, id: Ident) {
    let dup = out.iter().any(|x| x.arn == id.arn && x.userid == id.userid);
    if out.len() < MAX_IDENTS_PER_ACCOUNT && !dup {
        out.push(id);
    }
}
