//! Container command line resolution from the pod spec and the image config, as upstream:
//! `command` replaces ENTRYPOINT (and drops CMD), `args` replaces CMD.

use skiff_cri::ImageConfig;

use crate::env::expand;

/// The full argv of a container. `$(VAR)` references in command and args are expanded from
/// `env` (the container's resolved environment).
pub fn resolve_command(
    command: &[String],
    args: &[String],
    image: &ImageConfig,
    env: &[(String, String)],
) -> Vec<String> {
    let (entry, rest): (Vec<String>, Vec<String>) = match (command.is_empty(), args.is_empty()) {
        (true, true) => (image.entrypoint.clone(), image.cmd.clone()),
        (true, false) => (image.entrypoint.clone(), expand_all(args, env)),
        (false, true) => (expand_all(command, env), Vec::new()),
        (false, false) => (expand_all(command, env), expand_all(args, env)),
    };
    entry.into_iter().chain(rest).collect()
}

fn expand_all(items: &[String], env: &[(String, String)]) -> Vec<String> {
    items.iter().map(|s| expand(s, env)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img() -> ImageConfig {
        ImageConfig {
            entrypoint: vec!["/ep".into()],
            cmd: vec!["c1".into(), "c2".into()],
            ..Default::default()
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn table() {
        let env = vec![("X".to_string(), "ex".to_string())];
        let cases: Vec<(Vec<String>, Vec<String>, Vec<String>)> = vec![
            (vec![], vec![], s(&["/ep", "c1", "c2"])),
            (vec![], s(&["a", "$(X)"]), s(&["/ep", "a", "ex"])),
            (s(&["sh", "-c"]), vec![], s(&["sh", "-c"])),
            (
                s(&["sh"]),
                s(&["-c", "echo $(X) $$(X)"]),
                s(&["sh", "-c", "echo ex $(X)"]),
            ),
        ];
        for (cmd, args, want) in cases {
            assert_eq!(
                resolve_command(&cmd, &args, &img(), &env),
                want,
                "{cmd:?} {args:?}"
            );
        }
    }
}
