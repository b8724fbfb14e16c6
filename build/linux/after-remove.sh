#!/bin/bash
# The deb's after-remove (an electron-builder template, like after-install.sh): undoes
# what after-install did. The appliance and /etc/default/chronodisk stay; so does the
# chronodisk group (files may still belong to it).
APP='/opt/${sanitizedProductName}'
EXE='${executable}'

# On upgrade the new version's after-install puts everything back.
if [ "$1" = "upgrade" ] || [ "$1" = "1" ]; then exit 0; fi

if [ -d /run/systemd/system ]; then
  systemctl disable --now chronodisk.service >/dev/null 2>&1 || true
fi
rm -f /lib/systemd/system/chronodisk.service
rm -f /usr/share/polkit-1/actions/dev.chronodisk.service.policy /usr/share/polkit-1/rules.d/50-chronodisk.rules
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi

[ "$(readlink /usr/bin/chronodisk)" = "$APP/resources/linux/chronodisk" ] && rm -f /usr/bin/chronodisk
[ "$(readlink "/usr/bin/$EXE")" = "$APP/$EXE" ] && rm -f "/usr/bin/$EXE"

if [ -f "/etc/apparmor.d/$EXE" ]; then
  if apparmor_status --enabled >/dev/null 2>&1 && hash apparmor_parser 2>/dev/null; then
    apparmor_parser --remove "/etc/apparmor.d/$EXE" || true
  fi
  rm -f "/etc/apparmor.d/$EXE"
fi
exit 0
