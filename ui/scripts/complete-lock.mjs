#!/usr/bin/env node
// The registry mirror this project installs from serves only the linux-gnu builds
// of some platform-specific packages (the Tauri CLI's and rollup's native
// binaries). `npm install` then leaves those optional dependencies out of
// package-lock.json, and `npm ci` refuses the lock as "out of sync". This adds
// the missing entries, marked optional with the os/cpu/libc their names
// encode, so `npm ci` skips them on Linux and fetches them on other platforms.
// Run after `npm install`: node scripts/complete-lock.mjs
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const pkgs = lock.packages;

const OS = ["darwin", "linux", "win32", "android", "freebsd", "openbsd", "openharmony", "netbsd", "sunos", "aix"];
const CPU = ["arm64", "x64", "arm", "ia32", "riscv64", "loong64", "ppc64", "s390x", "mips64el", "ppc64le"];

function platformOf(name) {
  const parts = name.split("/").pop().split("-");
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.find((p) => CPU.includes(p));
  if (!os || !cpu) return null;
  const abi = parts[parts.length - 1];
  const libc = /^gnu/.test(abi) ? "glibc" : /^musl/.test(abi) ? "musl" : null;
  return { os, cpu, libc };
}

let added = 0;
for (const [where, meta] of Object.entries(pkgs)) {
  for (const [dep, spec] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (pkgs[key] || pkgs[`${where}/node_modules/${dep}`]) continue;
    const platform = platformOf(dep);
    if (!platform || !/^\d+\.\d+\.\d+/.test(spec)) {
      console.warn(`skipped ${dep}@${spec}: not a platform package with an exact version`);
      continue;
    }
    pkgs[key] = {
      version: spec,
      cpu: [platform.cpu],
      ...(meta.dev ? { dev: true } : {}),
      ...(platform.libc ? { libc: [platform.libc] } : {}),
      optional: true,
      os: [platform.os],
    };
    added++;
  }
}

lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => a.localeCompare(b, "en")));
writeFileSync(path, JSON.stringify(lock, null, 2) + "\n");
console.log(`package-lock.json: added ${added} platform entries`);
