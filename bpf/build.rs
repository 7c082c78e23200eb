//! Compiles `src/*.bpf.c` with `clang -target bpf` against a `vmlinux.h` generated from the
//! kernel's BTF (CO-RE: the objects then load on any kernel with BTF).
//!
//! Without clang, bpftool or kernel BTF the build still succeeds: it says why with a
//! cargo warning and the crate reports the eBPF collector as unavailable at run time.
//! `TAPIO_VMLINUX_BTF` points at another BTF file (default `/sys/kernel/btf/vmlinux`);
//! `TAPIO_BPF_CLANG` names the compiler (default `clang`).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const PROGRAMS: [&str; 4] = ["oom", "exit", "tcp", "memcg"];

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tapio_bpf)");
    println!("cargo::rerun-if-changed=src");
    println!("cargo::rerun-if-changed=include");
    println!("cargo::rerun-if-env-changed=TAPIO_VMLINUX_BTF");
    println!("cargo::rerun-if-env-changed=TAPIO_BPF_CLANG");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    match build(&out) {
        Ok(()) => println!("cargo::rustc-cfg=tapio_bpf"),
        Err(why) => {
            println!("cargo::warning=eBPF collector not available: {why}");
            std::fs::write(out.join("unavailable.txt"), &why).expect("write OUT_DIR");
        }
    }
}

fn build(out: &Path) -> Result<(), String> {
    let arch = match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86_64") => "x86",
        Ok("aarch64") => "arm64",
        Ok(other) => return Err(format!("no eBPF build for target arch {other}")),
        Err(_) => return Err("CARGO_CFG_TARGET_ARCH not set".into()),
    };
    let btf = env::var("TAPIO_VMLINUX_BTF").unwrap_or_else(|_| "/sys/kernel/btf/vmlinux".into());
    if !Path::new(&btf).exists() {
        return Err(format!("no kernel BTF at {btf} (set TAPIO_VMLINUX_BTF)"));
    }
    let dump = Command::new("bpftool")
        .args(["btf", "dump", "file", &btf, "format", "c"])
        .output()
        .map_err(|e| format!("bpftool not found ({e}); apt-get install bpftool"))?;
    if !dump.status.success() {
        return Err(format!(
            "bpftool btf dump failed: {}",
            String::from_utf8_lossy(&dump.stderr).trim()
        ));
    }
    std::fs::write(out.join("vmlinux.h"), &dump.stdout).map_err(|e| e.to_string())?;
    let clang = env::var("TAPIO_BPF_CLANG").unwrap_or_else(|_| "clang".into());
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    for name in PROGRAMS {
        let src = manifest.join("src").join(format!("{name}.bpf.c"));
        let obj = out.join(format!("{name}.bpf.o"));
        let res = Command::new(&clang)
            .args(["-O2", "-g", "-target", "bpf", "-Wall", "-Werror"])
            .arg(format!("-D__TARGET_ARCH_{arch}"))
            .arg("-I")
            .arg(out)
            .arg("-I")
            .arg(manifest.join("include"))
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .output()
            .map_err(|e| format!("{clang} not found ({e}); apt-get install clang libbpf-dev"))?;
        if !res.status.success() {
            return Err(format!(
                "{clang} failed on {}: {}",
                src.display(),
                String::from_utf8_lossy(&res.stderr).trim()
            ));
        }
    }
    Ok(())
}
