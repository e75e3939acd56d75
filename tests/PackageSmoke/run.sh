#!/usr/bin/env bash
# Package smoke test: packs the Unroll NuGet package (runtime in lib/, generator in analyzers/),
# checks its layout, then builds and runs a console project that uses it only through a
# PackageReference, as an outside user would. Works from a fresh clone; run from anywhere.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

version=0.1.0
packages="$root/artifacts/packages"
nupkg="$packages/Unroll.$version.nupkg"

echo "== pack Unroll $version"
rm -f "$nupkg"
# Building the runtime builds the generator first (a ProjectReference), in the same configuration,
# so the generator dll exists where the csproj packs it from.
dotnet pack Runtime/Unroll.Runtime.csproj -c Release -o artifacts/packages
[[ -f "$nupkg" ]] || { echo "package smoke: FAILED, $nupkg was not created" >&2; exit 1; }

echo "== check the package layout"
if command -v unzip >/dev/null 2>&1; then
    listing="$(unzip -l "$nupkg")"
else
    listing="$(python3 -m zipfile -l "$nupkg")"
fi
for entry in lib/net10.0/Unroll.dll analyzers/dotnet/cs/Unroll.Generator.dll; do
    if ! grep -qF "$entry" <<<"$listing"; then
        echo "$listing" >&2
        echo "package smoke: FAILED, $entry is missing from $(basename "$nupkg")" >&2
        exit 1
    fi
    echo "found $entry"
done

echo "== drop any cached Unroll package"
# Restore never replaces a cached package of the same version, so remove the cached copy (and only it).
global="$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: *//p' | head -n 1)"
global="${global%/}"
if [[ -z "$global" ]]; then
    echo "package smoke: FAILED, cannot find the NuGet global packages folder" >&2
    exit 1
fi
if [[ -d "$global/unroll" ]]; then
    echo "removing $global/unroll"
    rm -rf -- "$global/unroll"
fi

echo "== build and run the smoke project"
cd "$here"
rm -rf bin obj
dotnet restore PackageSmoke.csproj --force
# The package must be the one just packed, byte for byte.
if ! cmp -s "$nupkg" "$global/unroll/$version/unroll.$version.nupkg"; then
    echo "package smoke: FAILED, the restored Unroll $version is not the package just packed" >&2
    exit 1
fi
# No shared compiler server: it could hold an earlier build of the generator.
dotnet build PackageSmoke.csproj -c Release --no-restore -p:UseSharedCompilation=false
dotnet bin/Release/net10.0/PackageSmoke.dll

echo "package smoke: passed"
