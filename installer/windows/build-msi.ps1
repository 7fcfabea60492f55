# Build the MSI from the PyInstaller bundle with the WiX Toolset v3 (Windows).
#   powershell -File installer\windows\build-msi.ps1 [-Bundle dist\practice-client] [-OutDir dist]
# Run from the repository root. The same practice-client.wxs builds with wixl on Linux
# (build-msi.sh); the file list comes from harvest.py with stable component GUIDs (never heat -gg).
param(
    [string]$Bundle = "dist\practice-client",
    [string]$OutDir = "dist"
)
$ErrorActionPreference = "Stop"
$version = python -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])"
if ($LASTEXITCODE -ne 0) { throw "cannot read the version from pyproject.toml" }
$work = Join-Path "build" "wix"
New-Item -ItemType Directory -Force -Path $work, $OutDir | Out-Null
python installer\windows\harvest.py $Bundle "$work\bundle-files.wxs"
if ($LASTEXITCODE -ne 0) { throw "harvest.py failed" }
# the practice service's executable: its component is written in practice-client.wxs
$serviceDefines = python installer\windows\harvest.py --service-exe $Bundle | ForEach-Object { "-d$_" }
if ($LASTEXITCODE -ne 0) { throw "harvest.py --service-exe failed" }
$wix = if ($env:WIX) { Join-Path $env:WIX "bin" } else { "C:\Program Files (x86)\WiX Toolset v3.14\bin" }
& "$wix\candle.exe" -nologo -arch x64 "-dVersion=$version" "-dIconFile=resources\icons\practice-client.ico" @serviceDefines `
    -out "$work\" installer\windows\practice-client.wxs "$work\bundle-files.wxs"
if ($LASTEXITCODE -ne 0) { throw "candle failed" }
# ICE38/43/57 assume shortcuts live in a per-user profile; this package is per-machine
# (ALLUSERS=1) and keys its Start-menu shortcut on HKLM on purpose.
$msi = Join-Path $OutDir "practice-client-$version.msi"
& "$wix\light.exe" -nologo -sice:ICE38 -sice:ICE43 -sice:ICE57 -out $msi `
    "$work\practice-client.wixobj" "$work\bundle-files.wixobj"
if ($LASTEXITCODE -ne 0) { throw "light failed" }
Write-Output $msi
