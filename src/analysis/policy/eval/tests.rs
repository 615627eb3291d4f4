//! Evaluator-level verdicts that need many literals or a look at the grants.

use super::super::{Access, Subject, Trust, analyze};

fn trust() -> Trust {
    Trust {
        owner_account: "111111111111".into(),
        ..Trust::default()
    }
}

fn repo() -> Subject<'static> {
    Subject::Repository {
        arn: "arn:aws:ecr:us-east-1:111111111111:repository/app",
        tags: None,
    }
}

fn unknown_actions(range: std::ops::Range<usize>) -> String {
    let names: Vec<String> = range.map(|i| format!("\"ecr:FutureAction{i}\"")).collect();
    format!("[{}]", names.join(","))
}

/// Spec §3: a concrete `ecr:` name missing from the table counts as write, however many
/// such names a policy has (the old 64-bit action mask had room for 29).
#[test]
fn every_unknown_ecr_action_counts_as_write() {
    let text = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"111111111111"}},"Action":{}}},
            {{"Effect":"Allow","Principal":"*","Action":"ecr:FutureAction29"}}]}}"#,
        unknown_actions(0..29)
    );
    let v = analyze(&text, &repo(), &trust()).expect("valid policy");
    assert!(v.public, "{v:?}");
    assert_eq!(v.access, Access::Write);
    assert_eq!(v.grants.len(), 1);
    assert_eq!(v.grants[0].actions, ["ecr:FutureAction29"]);

    let text = format!(
        r#"{{"Statement":{{"Effect":"Allow","Principal":"*","Action":{}}}}}"#,
        unknown_actions(0..40)
    );
    let v = analyze(&text, &repo(), &trust()).expect("valid policy");
    assert!(v.public);
    assert_eq!(v.access, Access::Write);
    assert_eq!(v.grants[0].actions.len(), 40);
    let noted = v
        .notes
        .iter()
        .filter(|n| n.contains("counted as write"))
        .count();
    assert_eq!(noted, 40);
}
