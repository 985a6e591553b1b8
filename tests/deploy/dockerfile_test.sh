#!/usr/bin/env bash
# deploy.dockerfile: deploy/docker/Dockerfile still fits Debian 12 and the binary it ships.
#   - every package it installs (build and runtime stage) exists in Debian (apt-cache show);
#   - the build stage installs deploy/install-packages.sh's build group (what CI builds with),
#     less catch2 (tests are off in the image);
#   - every shared library the built patroxy needs (its ELF NEEDED entries) belongs to a runtime
#     package the image installs, or to the base image's own C/C++ runtime;
#   - what the compose file and the docs rely on: the config path in ENTRYPOINT, the exposed
#     ports, a non-root USER, the health check script it copies.
# usage: dockerfile_test.sh PATROXY_BINARY
source "$(dirname "$0")/lib.sh"
binary=${1:?usage: dockerfile_test.sh PATROXY_BINARY}

mapfile -t build_pkgs < <(dockerfile_packages build)
mapfile -t runtime_pkgs < <(dockerfile_packages runtime)
[ ${#build_pkgs[@]} -gt 0 ] || fail "no apt-get install found in the build stage"
[ ${#runtime_pkgs[@]} -gt 0 ] || fail "no apt-get install found in the runtime stage"
echo "build stage:   ${build_pkgs[*]}"
echo "runtime stage: ${runtime_pkgs[*]}"

# One apt-cache call for all (it lists those it knows and complains about the others).
known=$(apt-cache show --no-all-versions "${build_pkgs[@]}" "${runtime_pkgs[@]}" 2>/dev/null | sed -n 's/^Package: //p')
for p in "${build_pkgs[@]}" "${runtime_pkgs[@]}"; do
  check "Debian 12 has package $p" grep -qx -- "$p" <<< "$known"
done

# install-packages.sh: the words after "# build" up to the next comment line.
mapfile -t ci_build < <(awk '
  /^ *# build/ { grab = 1; next }
  grab && /^ *#/ { exit }
  grab && /\)/ { sub(/\).*/, ""); for (i = 1; i <= NF; i++) print $i; exit }
  grab { for (i = 1; i <= NF; i++) print $i }' "$REPO/deploy/install-packages.sh")
[ ${#ci_build[@]} -gt 0 ] || fail "no build group found in deploy/install-packages.sh"
for p in "${ci_build[@]}"; do
  [ "$p" = catch2 ] && continue
  check "build stage installs $p (deploy/install-packages.sh's build group)" \
    bash -c "printf '%s\n' ${build_pkgs[*]} | grep -qx -- '$p'"
done

# The shared libraries: NEEDED entries -> the Debian package that ships each one here.
base_pkgs=(libc6 libgcc-s1 libstdc++6) # in debian:bookworm-slim already (apt depends on them)
mapfile -t needed < <(objdump -p "$binary" | awk '/NEEDED/ { print $2 }')
[ ${#needed[@]} -gt 0 ] || fail "objdump found no NEEDED entry in $binary"
# Where the loader finds each one here (ldd), so that a multiarch copy (/lib32) is not taken.
package_of() {
  local path
  path=$(ldd "$binary" | awk -v lib="$1" '$1 == lib && $3 ~ /^\// { print $3; exit }')
  [ -n "$path" ] || return 0
  # merged /usr: dpkg may have recorded the file under either name
  { dpkg -S "$path" || dpkg -S "/usr$path" || dpkg -S "${path#/usr}"; } 2>/dev/null | head -1 | cut -d: -f1
}
for lib in "${needed[@]}"; do
  owner=$(package_of "$lib")
  if [ -z "$owner" ]; then
    fail "$lib: no Debian package ships it on this machine"
    continue
  fi
  check "$lib ($owner) is installed by the runtime stage or in the base image" \
    bash -c "printf '%s\n' ${runtime_pkgs[*]} ${base_pkgs[*]} | grep -qx -- '$owner'"
done

check "ENTRYPOINT runs patroxy -f /etc/patroxy/patroxy.json" \
  grep -qx 'ENTRYPOINT \["patroxy", "-f", "/etc/patroxy/patroxy.json"\]' "$DOCKERFILE"
check "EXPOSE 5000 5001 8404" grep -qx 'EXPOSE 5000 5001 8404' "$DOCKERFILE"
check "STOPSIGNAL SIGTERM" grep -qx 'STOPSIGNAL SIGTERM' "$DOCKERFILE"
check "the last USER is not root" \
  bash -c "user=\$(awk '/^USER /{u=\$2} END{print u}' '$DOCKERFILE'); [ -n \"\$user\" ] && [ \"\${user%%:*}\" != root ] && [ \"\${user%%:*}\" != 0 ]"
check "HEALTHCHECK runs the copied health check script" \
  bash -c "grep -q '^COPY deploy/docker/healthcheck.sh /usr/local/bin/patroxy-healthcheck$' '$DOCKERFILE' &&
           grep -A1 '^HEALTHCHECK' '$DOCKERFILE' | grep -q '/usr/local/bin/patroxy-healthcheck'"
check "the build stage installs the binary from where CMake puts it (proxy/patroxy)" \
  bash -c "[[ '$binary' == */proxy/patroxy ]] && grep -q ' /build/proxy/patroxy /usr/local/bin/patroxy' '$DOCKERFILE'"
check "the build stage turns tests off and builds Release" \
  grep -q -- '-DPATROXY_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release' "$DOCKERFILE"
check ".dockerignore keeps .git and build dirs out of the context" \
  bash -c "grep -qx '.git' '$REPO/.dockerignore' && grep -qx 'build\*' '$REPO/.dockerignore'"
# The sources the image build needs must not be ignored: every top-level add_subdirectory.
for d in $(sed -n 's/^add_subdirectory(\([a-z_]*\))$/\1/p' "$REPO/CMakeLists.txt"); do
  check "$d/ is in the build context" bash -c "! grep -qx -e '$d' -e '$d/' -e '$d/\*' '$REPO/.dockerignore'"
done
finish
