//! `skiff image import|ls|rm`: the node's image store, shared safely with a running agent.

use crate::cli::{ImageArgs, ImageCommand};
use anyhow::Context;
use skiff_images::{ImageStore, RegistryConfig};

/// The image store of a data directory, with its `registries.yaml` if present.
pub fn open_store(data_dir: &std::path::Path) -> anyhow::Result<ImageStore> {
    let registries = RegistryConfig::load(&data_dir.join("registries.yaml"))
        .context("reading registries.yaml")?;
    ImageStore::open(&data_dir.join("images"), registries).context("opening the image store")
}

/// Run an image subcommand.
pub fn run(args: ImageArgs) -> anyhow::Result<()> {
    let store = open_store(&args.data_dir)?;
    match args.command {
        ImageCommand::Import { files } => {
            for f in files {
                let images = store
                    .import(&f)
                    .with_context(|| format!("importing {}", f.display()))?;
                for i in images {
                    println!("imported {} ({})", i.references.join(", "), i.digest);
                }
            }
        }
        ImageCommand::Ls => {
            println!("{:<60} {:<15} {:>10}", "IMAGE", "IMAGE ID", "SIZE");
            for i in store.list() {
                let id =
                    i.id.trim_start_matches("sha256:")
                        .chars()
                        .take(12)
                        .collect::<String>();
                let size = format!("{:.1}MiB", i.size as f64 / (1024.0 * 1024.0));
                if i.references.is_empty() {
                    println!("{:<60} {:<15} {:>10}", "<none>", id, size);
                }
                for r in &i.references {
                    println!("{r:<60} {id:<15} {size:>10}");
                }
            }
        }
        ImageCommand::Rm { images } => {
            for i in images {
                store.remove(&i).with_context(|| format!("removing {i}"))?;
                println!("removed {i}");
            }
        }
    }
    Ok(())
}
