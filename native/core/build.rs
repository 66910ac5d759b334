//! With feature `cuda`: compile every kernels/*.cu with nvcc into a fatbin
//! (cubins for sm_80 and sm_90 plus compute_90 PTX for newer GPUs) and list
//! them in $OUT_DIR/modules.rs, which src/cuda embeds (one kernel module per
//! .cu file, named by its stem: adding an op's kernels needs no edit there). nvcc is looked up in $NVCC, $CUDA_HOME/bin, the repo's
//! .cuda/ folder (scripts/install-nvcc.sh installs nvcc 13.0 from PyPI there)
//! and PATH. Without the feature this script does nothing.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=NVCC");
    println!("cargo:rerun-if-env-changed=CUDA_HOME");
    if env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let repo = manifest.join("../..");
    let nvcc = find_nvcc(&repo).unwrap_or_else(|| {
        panic!(
            "\n\nsigvwap: feature `cuda` is on but nvcc was not found.\n\
             Looked in $NVCC, $CUDA_HOME/bin, {}/.cuda (PyPI install) and PATH.\n\
             Install nvcc 13.0.x with `bash scripts/install-nvcc.sh` (from PyPI) or a CUDA toolkit, \
             or build without the feature (`npm run build`).\n\n",
            repo.display()
        )
    });
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let kernels = manifest.join("kernels");
    let mut names: Vec<_> = std::fs::read_dir(&kernels)
        .expect("native/core/kernels")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cu"))
        .collect();
    names.sort();
    let include_dirs = header_dirs(&nvcc);
    let mut modules = String::from("&[\n");
    for cu in &names {
        println!("cargo:rerun-if-changed={}", cu.display());
        let stem = cu.file_stem().unwrap().to_string_lossy().to_string();
        let dst = out.join(format!("{stem}.fatbin"));
        let mut cmd = Command::new(&nvcc);
        cmd.arg("-fatbin")
            .arg("-O3")
            .arg("-std=c++17")
            .args(["-gencode", "arch=compute_80,code=sm_80"])
            .args(["-gencode", "arch=compute_90,code=sm_90"])
            .args(["-gencode", "arch=compute_90,code=compute_90"]);
        for dir in &include_dirs {
            cmd.arg(format!("-I{}", dir.display()));
        }
        cmd.arg("-o").arg(&dst).arg(cu);
        let status = cmd.status().unwrap_or_else(|e| panic!("sigvwap: cannot run {}: {e}", nvcc.display()));
        if !status.success() {
            panic!("sigvwap: nvcc failed on {} ({status})", cu.display());
        }
        modules.push_str(&format!("    ({stem:?}, include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{stem}.fatbin\"))),\n"));
    }
    modules.push(']');
    std::fs::write(out.join("modules.rs"), modules).expect("write modules.rs");
    println!("cargo:rerun-if-changed={}", kernels.display());
}

fn find_nvcc(repo: &Path) -> Option<PathBuf> {
    if let Some(p) = env::var_os("NVCC") {
        return Some(PathBuf::from(p));
    }
    if let Some(home) = env::var_os("CUDA_HOME") {
        let p = PathBuf::from(home).join("bin/nvcc");
        if p.is_file() {
            return Some(p);
        }
    }
    if let Some(p) = find_file(&repo.join(".cuda"), "nvcc", 6) {
        return Some(p);
    }
    env::var_os("PATH").and_then(|paths| env::split_paths(&paths).map(|d| d.join("nvcc")).find(|p| p.is_file()))
}

/// The PyPI wheels put nvcc, the CUDA runtime headers, crt and CCCL in
/// sibling folders; nvcc needs all of their include dirs.
fn header_dirs(nvcc: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut root = nvcc.to_path_buf();
    for _ in 0..4 {
        if !root.pop() {
            break;
        }
        if root.file_name().is_some_and(|n| n == "nvidia") {
            collect_include_dirs(&root, 4, &mut dirs);
            break;
        }
    }
    dirs
}

fn collect_include_dirs(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth == 0 {
        return;
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "include") {
                    out.push(p);
                } else {
                    collect_include_dirs(&p, depth - 1, out);
                }
            }
        }
    }
}

fn find_file(dir: &Path, name: &str, depth: usize) -> Option<PathBuf> {
    if depth == 0 {
        return None;
    }
    let rd = std::fs::read_dir(dir).ok()?;
    let mut subdirs = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            subdirs.push(p);
        } else if p.file_name().is_some_and(|n| n == name) && p.parent().is_some_and(|d| d.ends_with("bin")) {
            return Some(p);
        }
    }
    subdirs.sort();
    subdirs.into_iter().find_map(|d| find_file(&d, name, depth - 1))
}
