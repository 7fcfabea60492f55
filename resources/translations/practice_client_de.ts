<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de" sourcelanguage="en">
<context>
    <name>AssignDialog</name>
    <message>
        <source>Assign file</source>
        <translation>Datei zuordnen</translation>
    </message>
    <message>
        <source>Which patient is the file “%1” for? Patients with an accepted request, as the practice software knows them.</source>
        <translation>Für welche Patientin / welchen Patienten ist die Datei „%1“? Patienten mit angenommener Anfrage, wie die Praxissoftware sie führt.</translation>
    </message>
    <message>
        <source>Patients with an accepted request</source>
        <translation>Patienten mit angenommener Anfrage</translation>
    </message>
    <message>
        <source>Patient</source>
        <translation>Patient/in</translation>
    </message>
    <message>
        <source>Born</source>
        <translation>Geboren</translation>
    </message>
    <message>
        <source>Patient no.</source>
        <translation>Patientennr.</translation>
    </message>
    <message>
        <source>Check</source>
        <translation>Abgleich</translation>
    </message>
    <message>
        <source>Documents</source>
        <translation>Unterlagen</translation>
    </message>
    <message>
        <source>Period</source>
        <translation>Zeitraum</translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation>Wird geladen …</translation>
    </message>
    <message>
        <source>&amp;Birth date from the document (DD.MM.YYYY):</source>
        <translation>&amp;Geburtsdatum laut Dokument (TT.MM.JJJJ):</translation>
    </message>
    <message>
        <source>Birth date to confirm</source>
        <translation>Geburtsdatum zur Bestätigung</translation>
    </message>
    <message>
        <source>DD.MM.YYYY</source>
        <translation>TT.MM.JJJJ</translation>
    </message>
    <message>
        <source>No patient has an accepted request. Accept the request first.</source>
        <translation>Keine Patientin / kein Patient hat eine angenommene Anfrage. Bitte zuerst die Anfrage annehmen.</translation>
    </message>
    <message>
        <source>Differs – see tooltip</source>
        <translation>Abweichung – siehe Tooltip</translation>
    </message>
    <message>
        <source>OK</source>
        <translation>OK</translation>
    </message>
    <message>
        <source>Practice software: %1, born %2</source>
        <translation>Praxissoftware: %1, geb. %2</translation>
    </message>
    <message>
        <source>Trust certificate: %1, born %2</source>
        <translation>Vertrauenszertifikat: %1, geb. %2</translation>
    </message>
    <message>
        <source>The request says: %1, born %2</source>
        <translation>Die Anfrage sagt: %1, geb. %2</translation>
    </message>
    <message>
        <source>Select the patient, then type the birth date printed on the document.</source>
        <translation>Patient/in auswählen, dann das Geburtsdatum eingeben, das auf dem Dokument steht.</translation>
    </message>
    <message>
        <source>This is not a valid date (DD.MM.YYYY).</source>
        <translation>Das ist kein gültiges Datum (TT.MM.JJJJ).</translation>
    </message>
    <message>
        <source>The birth date does not match this patient in the practice software. Check the document and the patient.</source>
        <translation>Das Geburtsdatum passt nicht zu dieser Patientin / diesem Patienten in der Praxissoftware. Bitte Dokument und Patient prüfen.</translation>
    </message>
    <message>
        <source>The birth date matches the practice software.</source>
        <translation>Das Geburtsdatum stimmt mit der Praxissoftware überein.</translation>
    </message>
    <message>
        <source>Assign</source>
        <translation>Zuordnen</translation>
    </message>
</context>
<context>
    <name>AuditEvents</name>
    <message>
        <source>Setup completed</source>
        <translation>Einrichtung abgeschlossen</translation>
    </message>
    <message>
        <source>Practice key created</source>
        <translation>Praxisschlüssel erzeugt</translation>
    </message>
    <message>
        <source>Practice key exported</source>
        <translation>Praxisschlüssel exportiert</translation>
    </message>
    <message>
        <source>Practice key registered</source>
        <translation>Praxisschlüssel registriert</translation>
    </message>
    <message>
        <source>Patient data imported</source>
        <translation>Patientendaten importiert</translation>
    </message>
    <message>
        <source>Trust certificate pinned</source>
        <translation>Vertrauenszertifikat angeheftet</translation>
    </message>
    <message>
        <source>Trust certificate re-pinned</source>
        <translation>Vertrauenszertifikat neu angeheftet</translation>
    </message>
    <message>
        <source>Trust certificate removed</source>
        <translation>Vertrauenszertifikat entfernt</translation>
    </message>
    <message>
        <source>Message received</source>
        <translation>Nachricht empfangen</translation>
    </message>
    <message>
        <source>Request checked</source>
        <translation>Anfrage geprüft</translation>
    </message>
    <message>
        <source>Request accepted</source>
        <translation>Anfrage angenommen</translation>
    </message>
    <message>
        <source>Request declined</source>
        <translation>Anfrage abgelehnt</translation>
    </message>
    <message>
        <source>Decision sent to the platform</source>
        <translation>Entscheidung an die Plattform gemeldet</translation>
    </message>
    <message>
        <source>Decision refused by the platform</source>
        <translation>Entscheidung von der Plattform abgelehnt</translation>
    </message>
    <message>
        <source>Document detected</source>
        <translation>Dokument erkannt</translation>
    </message>
    <message>
        <source>Document assigned</source>
        <translation>Dokument zugeordnet</translation>
    </message>
    <message>
        <source>Document unassigned</source>
        <translation>Dokument nicht zugeordnet</translation>
    </message>
    <message>
        <source>Document signed and encrypted</source>
        <translation>Dokument signiert und verschlüsselt</translation>
    </message>
    <message>
        <source>Upload started</source>
        <translation>Hochladen begonnen</translation>
    </message>
    <message>
        <source>Document delivered</source>
        <translation>Dokument zugestellt</translation>
    </message>
    <message>
        <source>Delivery failed</source>
        <translation>Versand fehlgeschlagen</translation>
    </message>
    <message>
        <source>Audit log keyed</source>
        <translation>Protokollkette mit Schlüssel gesichert</translation>
    </message>
    <message>
        <source>Database updated</source>
        <translation>Datenbank aktualisiert</translation>
    </message>
</context>
<context>
    <name>AuditPage</name>
    <message>
        <source>Verification of the audit log</source>
        <translation>Prüfung des Protokolls</translation>
    </message>
    <message>
        <source>&amp;Verify again</source>
        <translation>Erneut &amp;prüfen</translation>
    </message>
    <message>
        <source>Check every entry of the log, not only the new ones</source>
        <translation>Jeden Eintrag des Protokolls prüfen, nicht nur die neuen</translation>
    </message>
    <message>
        <source>Filter: id, fingerprint, patient no. …</source>
        <translation>Filter: ID, Fingerabdruck, Patientennr. …</translation>
    </message>
    <message>
        <source>Filter entries</source>
        <translation>Einträge filtern</translation>
    </message>
    <message>
        <source>Event type</source>
        <translation>Ereignisart</translation>
    </message>
    <message>
        <source>&amp;Search:</source>
        <translation>&amp;Suche:</translation>
    </message>
    <message>
        <source>Audit log entries</source>
        <translation>Protokolleinträge</translation>
    </message>
    <message>
        <source>No.</source>
        <translation>Nr.</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>Zeit</translation>
    </message>
    <message>
        <source>Event</source>
        <translation>Ereignis</translation>
    </message>
    <message>
        <source>Details</source>
        <translation>Details</translation>
    </message>
    <message>
        <source>&lt;b&gt;Chain intact&lt;/b&gt; – all %1 entries verified; none was changed or removed.</source>
        <translation>&lt;b&gt;Kette unversehrt&lt;/b&gt; – alle %1 Einträge geprüft; keiner wurde verändert oder entfernt.</translation>
    </message>
    <message>
        <source>&lt;b&gt;Chain intact&lt;/b&gt; – %1 entries; the newest are verified and linked to those checked before. “Verify again” checks every entry.</source>
        <translation>&lt;b&gt;Kette unversehrt&lt;/b&gt; – %1 Einträge; die neuesten sind geprüft und an die zuvor geprüften angeschlossen. „Erneut prüfen“ prüft jeden Eintrag.</translation>
    </message>
    <message>
        <source>&lt;b&gt;Chain broken&lt;/b&gt; – the log was altered: %1</source>
        <translation>&lt;b&gt;Kette unterbrochen&lt;/b&gt; – das Protokoll wurde verändert: %1</translation>
    </message>
    <message>
        <source>All events</source>
        <translation>Alle Ereignisse</translation>
    </message>
</context>
<context>
    <name>BackupDialog</name>
    <message>
        <source>Back up the practice key</source>
        <translation>Praxisschlüssel sichern</translation>
    </message>
    <message>
        <source>Store the backup file on a USB stick in the practice safe and write the passphrase down separately. Without the key, documents can no longer be signed as your practice.</source>
        <translation>Speichern Sie die Sicherungsdatei auf einem USB-Stick im Praxistresor und notieren Sie die Passphrase getrennt davon. Ohne den Schlüssel können Dokumente nicht mehr im Namen Ihrer Praxis signiert werden.</translation>
    </message>
    <message>
        <source>Backup file</source>
        <translation>Sicherungsdatei</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>Durchsuchen…</translation>
    </message>
    <message>
        <source>Passphrase</source>
        <translation>Passphrase</translation>
    </message>
    <message>
        <source>Repeat passphrase</source>
        <translation>Passphrase wiederholen</translation>
    </message>
    <message>
        <source>&amp;Generate a recovery code</source>
        <translation>Wiederherstellungs&amp;code erzeugen</translation>
    </message>
    <message>
        <source>&amp;File:</source>
        <translation>&amp;Datei:</translation>
    </message>
    <message>
        <source>&amp;Passphrase:</source>
        <translation>&amp;Passphrase:</translation>
    </message>
    <message>
        <source>&amp;Repeat:</source>
        <translation>&amp;Wiederholen:</translation>
    </message>
    <message>
        <source>Write backup</source>
        <translation>Sicherung schreiben</translation>
    </message>
    <message>
        <source>Write this code down and keep it apart from the file: &lt;b&gt;%1&lt;/b&gt;</source>
        <translation>Notieren Sie diesen Code und bewahren Sie ihn getrennt von der Datei auf: &lt;b&gt;%1&lt;/b&gt;</translation>
    </message>
    <message>
        <source>The passphrase needs at least %1 characters.</source>
        <translation>Die Passphrase braucht mindestens %1 Zeichen.</translation>
    </message>
    <message>
        <source>The two passphrases differ.</source>
        <translation>Die beiden Passphrasen stimmen nicht überein.</translation>
    </message>
    <message>
        <source>Writing the backup…</source>
        <translation>Sicherung wird geschrieben…</translation>
    </message>
    <message>
        <source>Backup written to %1.</source>
        <translation>Sicherung gespeichert unter %1.</translation>
    </message>
</context>
<context>
    <name>ConnectPage</name>
    <message>
        <source>Connect to the practice service</source>
        <translation>Mit dem Praxisdienst verbinden</translation>
    </message>
    <message>
        <source>The practice service holds the practice key, the requests and the documents. This PC works through it.</source>
        <translation>Der Praxisdienst hält den Praxisschlüssel, die Anfragen und die Dokumente. Dieser PC arbeitet über ihn.</translation>
    </message>
    <message>
        <source>Address of the practice service</source>
        <translation>Adresse des Praxisdienstes</translation>
    </message>
    <message>
        <source>Pairing code</source>
        <translation>Kopplungscode</translation>
    </message>
    <message>
        <source>from &apos;practice-client service pair&apos; at the practice server</source>
        <translation>von „practice-client service pair“ am Praxis-Server</translation>
    </message>
    <message>
        <source>Practice service (host:port)</source>
        <translation>Praxisdienst (Host:Port)</translation>
    </message>
    <message>
        <source>Ask the practice service on this PC for a code</source>
        <translation>Code beim Praxisdienst dieses PCs anfordern</translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation>Verbindung wird aufgebaut…</translation>
    </message>
    <message>
        <source>Connected as %1.</source>
        <translation>Verbunden als %1.</translation>
    </message>
</context>
<context>
    <name>ConnectWizard</name>
    <message>
        <source>Practice Client – connect this workstation</source>
        <translation>Practice Client – diesen Arbeitsplatz verbinden</translation>
    </message>
</context>
<context>
    <name>DeliveriesPage</name>
    <message>
        <source>Documents</source>
        <translation>Unterlagen</translation>
    </message>
    <message>
        <source>&amp;Key changed: decide…</source>
        <translation>&amp;Schlüssel geändert: entscheiden…</translation>
    </message>
    <message>
        <source>Decide about the selected held file (the patient&apos;s key changed)</source>
        <translation>Über die ausgewählte zurückgehaltene Datei entscheiden (der Schlüssel des Patienten wurde geändert)</translation>
    </message>
    <message>
        <source>Progress of %1: %2</source>
        <translation>Fortschritt von %1: %2</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Status</translation>
    </message>
    <message>
        <source>File</source>
        <translation>Datei</translation>
    </message>
    <message>
        <source>Patient</source>
        <translation>Patient/in</translation>
    </message>
    <message>
        <source>Born</source>
        <translation>Geboren</translation>
    </message>
    <message>
        <source>Patient no.</source>
        <translation>Patientennr.</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>Größe</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>Fortschritt</translation>
    </message>
    <message>
        <source>Details</source>
        <translation>Details</translation>
    </message>
    <message>
        <source>&amp;Retry</source>
        <translation>&amp;Erneut senden</translation>
    </message>
    <message>
        <source>Find: patient no. or document id</source>
        <translation>Suchen: Patientennr. oder Dokument-ID</translation>
    </message>
    <message>
        <source>Find documents</source>
        <translation>Dokumente suchen</translation>
    </message>
    <message>
        <source>Note: by the administrator&apos;s policy, files are matched by the patient number alone (no second identifier).</source>
        <translation>Hinweis: Nach der Richtlinie des Administrators werden Dateien allein über die Patientennummer zugeordnet (ohne zweites Merkmal).</translation>
    </message>
    <message>
        <source>Retry the selected delivery</source>
        <translation>Ausgewählten Versand erneut versuchen</translation>
    </message>
    <message>
        <source>A&amp;ssign to a request…</source>
        <translation>&amp;Zuordnen…</translation>
    </message>
    <message>
        <source>Assign the selected file to a request</source>
        <translation>Ausgewählte Datei einer Anfrage zuordnen</translation>
    </message>
    <message>
        <source>%1 document(s) need your attention, %2 on the way.</source>
        <translation>%1 Dokument(e) brauchen Ihre Aufmerksamkeit, %2 unterwegs.</translation>
    </message>
    <message>
        <source>Nothing needs your attention; %1 document(s) on the way.</source>
        <translation>Nichts zu tun; %1 Dokument(e) unterwegs.</translation>
    </message>
    <message>
        <source>unknown error</source>
        <translation>unbekannter Fehler</translation>
    </message>
    <message>
        <source>No matching request found: assign it to a patient.</source>
        <translation>Keine passende Anfrage gefunden – bitte zuordnen.</translation>
    </message>
    <message>
        <source>Delivered on %1</source>
        <translation>Zugestellt am %1</translation>
    </message>
</context>
<context>
    <name>FingerprintDialog</name>
    <message>
        <source>Compare fingerprint</source>
        <translation>Fingerabdruck vergleichen</translation>
    </message>
    <message>
        <source>Read the fingerprint aloud, group by group. The patient compares it with the fingerprint shown in their app. Pin the key only if every group matches.</source>
        <translation>Lesen Sie den Fingerabdruck Gruppe für Gruppe vor. Die Patientin / der Patient vergleicht ihn mit dem Fingerabdruck in der App. Heften Sie den Schlüssel nur an, wenn jede Gruppe übereinstimmt.</translation>
    </message>
    <message>
        <source>Group %1: %2</source>
        <translation>Gruppe %1: %2</translation>
    </message>
    <message>
        <source>Name:</source>
        <translation>Name:</translation>
    </message>
    <message>
        <source>Born:</source>
        <translation>Geboren:</translation>
    </message>
    <message>
        <source>Phone (verified by the platform):</source>
        <translation>Telefon (von der Plattform bestätigt):</translation>
    </message>
    <message>
        <source>Patient in the practice software</source>
        <translation>Patient/in in der Praxissoftware</translation>
    </message>
    <message>
        <source>– choose the patient –</source>
        <translation>– Patient/in auswählen –</translation>
    </message>
    <message>
        <source>%1, born %2, no. %3</source>
        <translation>%1, geb. %2, Nr. %3</translation>
    </message>
    <message>
        <source>&amp;Patient:</source>
        <translation>&amp;Patient/in:</translation>
    </message>
    <message>
        <source>⚠ This key is already pinned for patient no. %1.</source>
        <translation>⚠ Dieser Schlüssel ist bereits für Patientennr. %1 angeheftet.</translation>
    </message>
    <message>
        <source>I have compared all groups with the patient and they &amp;match</source>
        <translation>Ich habe alle Gruppen mit der Patientin / dem Patienten verglichen, sie &amp;stimmen überein</translation>
    </message>
    <message>
        <source>Re-pin key</source>
        <translation>Schlüssel neu anheften</translation>
    </message>
    <message>
        <source>Pin key</source>
        <translation>Schlüssel anheften</translation>
    </message>
</context>
<context>
    <name>FinishPage</name>
    <message>
        <source>Practice key</source>
        <translation>Praxisschlüssel</translation>
    </message>
    <message>
        <source>Setup status</source>
        <translation>Stand der Einrichtung</translation>
    </message>
    <message>
        <source>&lt;b&gt;Important:&lt;/b&gt; make a backup of the practice key now and keep it in a safe place. Without it, a new PC cannot sign documents as your practice.</source>
        <translation>&lt;b&gt;Wichtig:&lt;/b&gt; Legen Sie jetzt eine Sicherung des Praxisschlüssels an und verwahren Sie sie sicher. Ohne sie kann ein neuer PC keine Dokumente im Namen Ihrer Praxis signieren.</translation>
    </message>
    <message>
        <source>&amp;Back up key now…</source>
        <translation>Schlüssel jetzt &amp;sichern…</translation>
    </message>
    <message>
        <source>&amp;Test connection</source>
        <translation>Verbindung &amp;testen</translation>
    </message>
    <message>
        <source>Connection test result</source>
        <translation>Ergebnis des Verbindungstests</translation>
    </message>
    <message>
        <source>Setting up and creating the practice key… this can take a moment.</source>
        <translation>Einrichtung läuft, der Praxisschlüssel wird erzeugt… das kann einen Moment dauern.</translation>
    </message>
    <message>
        <source>created</source>
        <translation>erzeugt</translation>
    </message>
    <message>
        <source>kept</source>
        <translation>beibehalten</translation>
    </message>
    <message>
        <source>✔ Setup complete. Practice key %1.</source>
        <translation>✔ Einrichtung abgeschlossen. Praxisschlüssel %1.</translation>
    </message>
    <message>
        <source>Fingerprint: %1</source>
        <translation>Fingerabdruck: %1</translation>
    </message>
    <message>
        <source>✖ Setup failed: %1
Go back, correct it, and try again.</source>
        <translation>✖ Einrichtung fehlgeschlagen: %1
Gehen Sie zurück, korrigieren Sie die Angabe und versuchen Sie es erneut.</translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation>Verbindung wird aufgebaut…</translation>
    </message>
    <message>
        <source>✔ Connected to %1</source>
        <translation>✔ Verbunden mit %1</translation>
    </message>
    <message>
        <source>✖ No connection: %1</source>
        <translation>✖ Keine Verbindung: %1</translation>
    </message>
</context>
<context>
    <name>FolderPage</name>
    <message>
        <source>Practice software</source>
        <translation>Praxissoftware</translation>
    </message>
    <message>
        <source>Your practice software exports documents into this folder; the client picks them up from there.</source>
        <translation>Ihre Praxissoftware legt Dokumente in diesem Ordner ab; der Client holt sie dort ab.</translation>
    </message>
    <message>
        <source>Export folder</source>
        <translation>Exportordner</translation>
    </message>
    <message>
        <source>Practice name</source>
        <translation>Praxisname</translation>
    </message>
    <message>
        <source>Set up without connecting (register the key later)</source>
        <translation>Ohne Verbindung einrichten (Schlüssel später registrieren)</translation>
    </message>
    <message>
        <source>&amp;Export folder:</source>
        <translation>&amp;Exportordner:</translation>
    </message>
    <message>
        <source>Practice &amp;name:</source>
        <translation>Praxis&amp;name:</translation>
    </message>
</context>
<context>
    <name>GuiDemo</name>
    <message>
        <source>Demo: the patient will send a request in a few seconds…</source>
        <translation>Demo: Die Patientin sendet in wenigen Sekunden eine Anfrage…</translation>
    </message>
    <message>
        <source>Demo</source>
        <translation>Demo</translation>
    </message>
    <message>
        <source>The practice software exported a letter for the patient.</source>
        <translation>Die Praxissoftware hat einen Arztbrief für die Patientin exportiert.</translation>
    </message>
    <message>
        <source>The patient&apos;s app decrypted the letter: identical, signed by the practice.</source>
        <translation>Die App der Patientin hat den Brief entschlüsselt: identisch, von der Praxis signiert.</translation>
    </message>
    <message>
        <source>The patient could not open the letter.</source>
        <translation>Die Patientin konnte den Brief nicht öffnen.</translation>
    </message>
</context>
<context>
    <name>HeldDialog</name>
    <message>
        <source>Patient&apos;s key changed</source>
        <translation>Schlüssel des Patienten geändert</translation>
    </message>
    <message>
        <source>The file “%1” was meant for the key that signed the accepted request. The patient&apos;s key has been replaced since. Send it to the new key only if you have confirmed with the patient that they replaced it.</source>
        <translation>Die Datei „%1“ war für den Schlüssel bestimmt, mit dem die angenommene Anfrage unterschrieben wurde. Der Schlüssel des Patienten wurde inzwischen ersetzt. Senden Sie an den neuen Schlüssel nur, wenn Sie mit dem Patienten geklärt haben, dass er ihn ersetzt hat.</translation>
    </message>
    <message>
        <source>%1, born %2, no. %3</source>
        <translation>%1, geb. %2, Nr. %3</translation>
    </message>
    <message>
        <source>Patient (practice software):</source>
        <translation>Patient (Praxissoftware):</translation>
    </message>
    <message>
        <source>Key of the accepted request:</source>
        <translation>Schlüssel der angenommenen Anfrage:</translation>
    </message>
    <message>
        <source>Key pinned now:</source>
        <translation>Jetzt hinterlegter Schlüssel:</translation>
    </message>
    <message>
        <source>I have confirmed with the patient that the new key is theirs</source>
        <translation>Ich habe mit dem Patienten geklärt, dass der neue Schlüssel seiner ist</translation>
    </message>
    <message>
        <source>Send to the new key</source>
        <translation>An den neuen Schlüssel senden</translation>
    </message>
    <message>
        <source>Do not send</source>
        <translation>Nicht senden</translation>
    </message>
</context>
<context>
    <name>InboxPage</name>
    <message>
        <source>Find: patient no. or share id</source>
        <translation>Suchen: Patientennr. oder Freigabe-ID</translation>
    </message>
    <message>
        <source>Find shared documents</source>
        <translation>Geteilte Dokumente suchen</translation>
    </message>
    <message>
        <source>Shared documents</source>
        <translation>Geteilte Dokumente</translation>
    </message>
    <message>
        <source>Documents are decrypted, checked against the patient&apos;s pinned key, scanned for malware and handed to the PMS import folder; this program never opens them.</source>
        <translation>Dokumente werden entschlüsselt, gegen den gepinnten Schlüssel der Patientin/des Patienten geprüft, auf Schadsoftware untersucht und in den PVS-Importordner übergeben; dieses Programm öffnet sie nie.</translation>
    </message>
    <message>
        <source>&amp;Release from quarantine…</source>
        <translation>Aus der Quarantäne &amp;freigeben…</translation>
    </message>
    <message>
        <source>Release the selected document from quarantine</source>
        <translation>Das ausgewählte Dokument aus der Quarantäne freigeben</translation>
    </message>
    <message>
        <source>&amp;Discard…</source>
        <translation>&amp;Verwerfen…</translation>
    </message>
    <message>
        <source>Discard the selected document</source>
        <translation>Das ausgewählte Dokument verwerfen</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Status</translation>
    </message>
    <message>
        <source>Patient</source>
        <translation>Patient/in</translation>
    </message>
    <message>
        <source>Born</source>
        <translation>Geboren</translation>
    </message>
    <message>
        <source>Patient no.</source>
        <translation>Patientennr.</translation>
    </message>
    <message>
        <source>Type (from the app)</source>
        <translation>Art (laut App)</translation>
    </message>
    <message>
        <source>File name (from the app)</source>
        <translation>Dateiname (laut App)</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>Größe</translation>
    </message>
    <message>
        <source>Received</source>
        <translation>Eingegangen</translation>
    </message>
    <message>
        <source>Details</source>
        <translation>Details</translation>
    </message>
    <message>
        <source>In the PMS import folder as %1</source>
        <translation>Im PVS-Importordner als %1</translation>
    </message>
    <message>
        <source>Being checked; nothing to do.</source>
        <translation>Wird geprüft; nichts zu tun.</translation>
    </message>
    <message>
        <source>%1 shared document(s) need your attention.</source>
        <translation>%1 geteilte(s) Dokument(e) brauchen Ihre Aufmerksamkeit.</translation>
    </message>
    <message>
        <source>Nothing needs your attention.</source>
        <translation>Nichts braucht Ihre Aufmerksamkeit.</translation>
    </message>
    <message>
        <source>Only an admin workstation releases from quarantine.</source>
        <translation>Nur ein Admin-Arbeitsplatz gibt aus der Quarantäne frei.</translation>
    </message>
    <message>
        <source>Only an administrator releases from quarantine (set by the administrator&apos;s policy).</source>
        <translation>Nur Administratoren geben aus der Quarantäne frei (durch die Richtlinie der Administration festgelegt).</translation>
    </message>
    <message>
        <source>Finding: %1. The document stays in quarantine unless you release it. A released document goes on to the remaining checks or straight to the PMS. Your name and reason are recorded.</source>
        <translation>Befund: %1. Das Dokument bleibt in Quarantäne, bis Sie es freigeben. Ein freigegebenes Dokument durchläuft die übrigen Prüfungen oder geht direkt an das PVS. Ihr Name und Ihr Grund werden protokolliert.</translation>
    </message>
    <message>
        <source>Discard shared document</source>
        <translation>Geteiltes Dokument verwerfen</translation>
    </message>
    <message>
        <source>The document is deleted from this computer; the patient&apos;s app is told that the practice did not accept it.</source>
        <translation>Das Dokument wird von diesem Computer gelöscht; die App der Patientin/des Patienten erfährt, dass die Praxis es nicht angenommen hat.</translation>
    </message>
    <message>
        <source>&amp;Discard</source>
        <translation>&amp;Verwerfen</translation>
    </message>
</context>
<context>
    <name>Labels</name>
    <message>
        <source>Verified</source>
        <translation>Geprüft</translation>
    </message>
    <message>
        <source>Needs review</source>
        <translation>Prüfung nötig</translation>
    </message>
    <message>
        <source>Rejected</source>
        <translation>Zurückgewiesen</translation>
    </message>
    <message>
        <source>Open</source>
        <translation>Offen</translation>
    </message>
    <message>
        <source>Accepted</source>
        <translation>Angenommen</translation>
    </message>
    <message>
        <source>Declined</source>
        <translation>Abgelehnt</translation>
    </message>
    <message>
        <source>Failed verification</source>
        <translation>Prüfung nicht bestanden</translation>
    </message>
    <message>
        <source>OK</source>
        <translation>In Ordnung</translation>
    </message>
    <message>
        <source>Check</source>
        <translation>Prüfen</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>Fehlgeschlagen</translation>
    </message>
    <message>
        <source>Sender (e-mail signature)</source>
        <translation>Absender (E-Mail-Signatur)</translation>
    </message>
    <message>
        <source>Format</source>
        <translation>Format</translation>
    </message>
    <message>
        <source>Patient&apos;s signed consent</source>
        <translation>Signierte Einwilligung</translation>
    </message>
    <message>
        <source>Phone number</source>
        <translation>Telefonnummer</translation>
    </message>
    <message>
        <source>Name and birth date</source>
        <translation>Name und Geburtsdatum</translation>
    </message>
    <message>
        <source>Addressed to this practice</source>
        <translation>An diese Praxis gerichtet</translation>
    </message>
    <message>
        <source>Validity period</source>
        <translation>Gültigkeit</translation>
    </message>
    <message>
        <source>Not seen before</source>
        <translation>Erstmalig eingegangen</translation>
    </message>
    <message>
        <source>Detected</source>
        <translation>Erkannt</translation>
    </message>
    <message>
        <source>Unassigned</source>
        <translation>Nicht zugeordnet</translation>
    </message>
    <message>
        <source>Waiting</source>
        <translation>Wartet</translation>
    </message>
    <message>
        <source>Held: key changed</source>
        <translation>Angehalten: Schlüssel geändert</translation>
    </message>
    <message>
        <source>Encrypted</source>
        <translation>Verschlüsselt</translation>
    </message>
    <message>
        <source>Uploading</source>
        <translation>Wird hochgeladen</translation>
    </message>
    <message>
        <source>Delivered</source>
        <translation>Zugestellt</translation>
    </message>
    <message>
        <source>Encrypting</source>
        <translation>Wird verschlüsselt</translation>
    </message>
    <message>
        <source>Video identification</source>
        <translation>Videoidentifikation</translation>
    </message>
    <message>
        <source>Online ID card (eID)</source>
        <translation>Online-Ausweis (eID)</translation>
    </message>
    <message>
        <source>In person</source>
        <translation>Persönlich</translation>
    </message>
    <message>
        <source>Bank identification</source>
        <translation>Bankidentifikation</translation>
    </message>
    <message>
        <source>Checking</source>
        <translation>Wird geprüft</translation>
    </message>
    <message>
        <source>Scanned clean</source>
        <translation>Geprüft, sauber</translation>
    </message>
    <message>
        <source>Received</source>
        <translation>Eingegangen</translation>
    </message>
    <message>
        <source>Handed to the PMS</source>
        <translation>An PVS übergeben</translation>
    </message>
    <message>
        <source>Quarantined</source>
        <translation>In Quarantäne</translation>
    </message>
    <message>
        <source>Discarded</source>
        <translation>Verworfen</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Practice Client</source>
        <translation>Practice Client</translation>
    </message>
    <message>
        <source>Navigation</source>
        <translation>Navigation</translation>
    </message>
    <message>
        <source>Requests</source>
        <translation>Anfragen</translation>
    </message>
    <message>
        <source>Deliveries</source>
        <translation>Versand</translation>
    </message>
    <message>
        <source>Incoming</source>
        <translation>Eingang</translation>
    </message>
    <message>
        <source>Patients</source>
        <translation>Patienten</translation>
    </message>
    <message>
        <source>Audit log</source>
        <translation>Protokoll</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Einstellungen</translation>
    </message>
    <message>
        <source>Working</source>
        <translation>Wird bearbeitet</translation>
    </message>
    <message>
        <source>%1 file(s) added to the outbox.</source>
        <translation>%1 Datei(en) in den Postausgang gelegt.</translation>
    </message>
    <message>
        <source>Error message</source>
        <translation>Fehlermeldung</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>Schließen</translation>
    </message>
    <message>
        <source>Close the error message</source>
        <translation>Fehlermeldung schließen</translation>
    </message>
    <message>
        <source>Request accepted.</source>
        <translation>Anfrage angenommen.</translation>
    </message>
    <message>
        <source>Request declined.</source>
        <translation>Anfrage abgelehnt.</translation>
    </message>
    <message>
        <source>⚠ %1 item(s) need your attention</source>
        <translation>⚠ %1 Vorgang/Vorgänge brauchen Ihre Aufmerksamkeit</translation>
    </message>
    <message>
        <source>✔ Nothing to do</source>
        <translation>✔ Nichts zu tun</translation>
    </message>
    <message>
        <source>● Connected to the platform</source>
        <translation>● Mit der Plattform verbunden</translation>
    </message>
    <message>
        <source>● Connected to the practice service</source>
        <translation>● Mit dem Praxisdienst verbunden</translation>
    </message>
    <message>
        <source>○ The practice service cannot be reached: the lists show the last state, actions wait until it is back</source>
        <translation>○ Der Praxisdienst ist nicht erreichbar: Die Listen zeigen den letzten Stand, Aktionen warten, bis er wieder da ist</translation>
    </message>
    <message>
        <source>○ Offline</source>
        <translation>○ Keine Verbindung</translation>
    </message>
    <message>
        <source>Still running</source>
        <translation>Läuft weiter</translation>
    </message>
    <message>
        <source>Practice Client keeps working in the background.</source>
        <translation>Practice Client arbeitet im Hintergrund weiter.</translation>
    </message>
</context>
<context>
    <name>PatientsPage</name>
    <message>
        <source>Patients</source>
        <translation>Patienten</translation>
    </message>
    <message>
        <source>Trust certificate</source>
        <translation>Vertrauenszertifikat</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Name</translation>
    </message>
    <message>
        <source>Born</source>
        <translation>Geboren</translation>
    </message>
    <message>
        <source>Patient no.</source>
        <translation>Patientennr.</translation>
    </message>
    <message>
        <source>Phone</source>
        <translation>Telefon</translation>
    </message>
    <message>
        <source>Fingerprint</source>
        <translation>Fingerabdruck</translation>
    </message>
    <message>
        <source>Pinned</source>
        <translation>Angeheftet</translation>
    </message>
    <message>
        <source>Find: patient no. or fingerprint</source>
        <translation>Suchen: Patientennr. oder Fingerabdruck</translation>
    </message>
    <message>
        <source>Find patients</source>
        <translation>Patienten suchen</translation>
    </message>
    <message>
        <source>&amp;Import trust certificate…</source>
        <translation>Vertrauenszertifikat &amp;importieren…</translation>
    </message>
    <message>
        <source>Import &amp;PMS data…</source>
        <translation>&amp;Patientendaten importieren…</translation>
    </message>
    <message>
        <source>&amp;Re-pin…</source>
        <translation>&amp;Neu anheften…</translation>
    </message>
    <message>
        <source>Re&amp;move…</source>
        <translation>&amp;Entfernen…</translation>
    </message>
    <message>
        <source>Tip: drop a trust certificate (*.trust.asc) onto this page.</source>
        <translation>Tipp: Ziehen Sie ein Vertrauenszertifikat (*.trust.asc) auf diese Seite.</translation>
    </message>
    <message>
        <source>%1 (not in the PMS data)</source>
        <translation>%1 (nicht in den PVS-Daten)</translation>
    </message>
    <message>
        <source>None</source>
        <translation>Keines</translation>
    </message>
    <message>
        <source>Identity checked by</source>
        <translation>Identität geprüft durch</translation>
    </message>
    <message>
        <source>%1 patient(s), %2 with a pinned trust certificate.</source>
        <translation>%1 Patient(en), davon %2 mit angeheftetem Vertrauenszertifikat.</translation>
    </message>
    <message>
        <source>Import trust certificate</source>
        <translation>Vertrauenszertifikat importieren</translation>
    </message>
    <message>
        <source>Trust certificates (*.asc);;All files (*)</source>
        <translation>Vertrauenszertifikate (*.asc);;Alle Dateien (*)</translation>
    </message>
    <message>
        <source>New trust certificate for %1</source>
        <translation>Neues Vertrauenszertifikat für %1</translation>
    </message>
    <message>
        <source>Remove trust certificate</source>
        <translation>Vertrauenszertifikat entfernen</translation>
    </message>
    <message>
        <source>Remove the pinned key of %1 (born %2)? Documents can no longer be sent to this patient until a new trust certificate is pinned.</source>
        <translation>Den angehefteten Schlüssel von %1 (geb. %2) entfernen? Bis ein neues Vertrauenszertifikat angeheftet ist, können dieser Person keine Dokumente mehr gesendet werden.</translation>
    </message>
    <message>
        <source>Remove</source>
        <translation>Entfernen</translation>
    </message>
    <message>
        <source>Import patient data</source>
        <translation>Patientendaten importieren</translation>
    </message>
    <message>
        <source>GDT or CSV (*.gdt *.GDT *.csv);;All files (*)</source>
        <translation>GDT oder CSV (*.gdt *.GDT *.csv);;Alle Dateien (*)</translation>
    </message>
</context>
<context>
    <name>PlatformPage</name>
    <message>
        <source>Platform</source>
        <translation>Plattform</translation>
    </message>
    <message>
        <source>These details come from your platform contract (letter or admin portal).</source>
        <translation>Diese Angaben stehen in Ihren Vertragsunterlagen der Plattform (Brief oder Verwaltungsportal).</translation>
    </message>
    <message>
        <source>Server address</source>
        <translation>Serveradresse</translation>
    </message>
    <message>
        <source>Practice ID</source>
        <translation>Praxis-ID</translation>
    </message>
    <message>
        <source>Platform domain</source>
        <translation>Plattform-Domain</translation>
    </message>
    <message>
        <source>Access token</source>
        <translation>Zugangstoken</translation>
    </message>
    <message>
        <source>Platform identity key file</source>
        <translation>Datei mit dem Identitätsschlüssel der Plattform</translation>
    </message>
    <message>
        <source>Extra CA file</source>
        <translation>Zusätzliche CA-Datei</translation>
    </message>
    <message>
        <source>&amp;Server:</source>
        <translation>&amp;Server:</translation>
    </message>
    <message>
        <source>&amp;Practice ID:</source>
        <translation>&amp;Praxis-ID:</translation>
    </message>
    <message>
        <source>Platform &amp;domain:</source>
        <translation>Plattform-&amp;Domain:</translation>
    </message>
    <message>
        <source>Access &amp;token:</source>
        <translation>Zugangs&amp;token:</translation>
    </message>
    <message>
        <source>&amp;Identity key:</source>
        <translation>&amp;Identitätsschlüssel:</translation>
    </message>
    <message>
        <source>Platform identity key</source>
        <translation>Identitätsschlüssel der Plattform</translation>
    </message>
    <message>
        <source>Extra &amp;CA (optional):</source>
        <translation>Zusätzliche &amp;CA (optional):</translation>
    </message>
    <message>
        <source>CA certificate</source>
        <translation>CA-Zertifikat</translation>
    </message>
</context>
<context>
    <name>ReasonDialog</name>
    <message>
        <source>&amp;Reason:</source>
        <translation>&amp;Begründung:</translation>
    </message>
    <message>
        <source>Reason</source>
        <translation>Begründung</translation>
    </message>
</context>
<context>
    <name>ReleaseShareDialog</name>
    <message>
        <source>Release from quarantine</source>
        <translation>Aus der Quarantäne freigeben</translation>
    </message>
    <message>
        <source>&amp;Release</source>
        <translation>&amp;Freigeben</translation>
    </message>
    <message>
        <source>I have checked the finding and take responsibility for releasing the document.</source>
        <translation>Ich habe den Befund geprüft und übernehme die Verantwortung für die Freigabe des Dokuments.</translation>
    </message>
    <message>
        <source>Patient number in the PMS</source>
        <translation>Patientennummer im PVS</translation>
    </message>
    <message>
        <source>Birth date as in the PMS</source>
        <translation>Geburtsdatum wie im PVS</translation>
    </message>
    <message>
        <source>DD.MM.YYYY</source>
        <translation>TT.MM.JJJJ</translation>
    </message>
    <message>
        <source>Patient &amp;number:</source>
        <translation>Patienten&amp;nummer:</translation>
    </message>
    <message>
        <source>&amp;Birth date:</source>
        <translation>&amp;Geburtsdatum:</translation>
    </message>
</context>
<context>
    <name>RequestDetail</name>
    <message>
        <source>Pinned trust certificate</source>
        <translation>Angeheftetes Vertrauenszertifikat</translation>
    </message>
    <message>
        <source>What the request states about the patient</source>
        <translation>Was die Anfrage über die Person angibt</translation>
    </message>
    <message>
        <source>Patient no.:</source>
        <translation>Patientennr.:</translation>
    </message>
    <message>
        <source>Born:</source>
        <translation>Geboren:</translation>
    </message>
    <message>
        <source>Trust certificate:</source>
        <translation>Vertrauenszertifikat:</translation>
    </message>
    <message>
        <source>⚠ The request states:</source>
        <translation>⚠ Die Anfrage gibt an:</translation>
    </message>
    <message>
        <source>Documents:</source>
        <translation>Unterlagen:</translation>
    </message>
    <message>
        <source>Period:</source>
        <translation>Zeitraum:</translation>
    </message>
    <message>
        <source>Received:</source>
        <translation>Eingegangen:</translation>
    </message>
    <message>
        <source>Status:</source>
        <translation>Status:</translation>
    </message>
    <message>
        <source>Verification</source>
        <translation>Prüfung</translation>
    </message>
    <message>
        <source>Consent signed by the patient</source>
        <translation>Signierte Einwilligung</translation>
    </message>
    <message>
        <source>Consent text</source>
        <translation>Text der Einwilligung</translation>
    </message>
    <message>
        <source>&amp;Accept</source>
        <translation>&amp;Annehmen</translation>
    </message>
    <message>
        <source>&amp;Decline…</source>
        <translation>A&amp;blehnen…</translation>
    </message>
    <message>
        <source>Add &amp;files…</source>
        <translation>&amp;Dateien hinzufügen…</translation>
    </message>
    <message>
        <source>Accept request</source>
        <translation>Anfrage annehmen</translation>
    </message>
    <message>
        <source>Decline request</source>
        <translation>Anfrage ablehnen</translation>
    </message>
    <message>
        <source>Add files for this request</source>
        <translation>Dateien für diese Anfrage hinzufügen</translation>
    </message>
    <message>
        <source>You can also drop files here.</source>
        <translation>Sie können Dateien auch hierher ziehen.</translation>
    </message>
    <message>
        <source>(patient not in the PMS data)</source>
        <translation>(Person nicht in den PVS-Daten)</translation>
    </message>
    <message>
        <source>All checks passed.</source>
        <translation>Alle Prüfungen bestanden.</translation>
    </message>
    <message>
        <source>Some checks need your attention before you decide.</source>
        <translation>Einige Prüfungen brauchen Ihre Aufmerksamkeit, bevor Sie entscheiden.</translation>
    </message>
    <message>
        <source>This request failed verification and cannot be accepted.</source>
        <translation>Diese Anfrage hat die Prüfung nicht bestanden und kann nicht angenommen werden.</translation>
    </message>
    <message>
        <source>%1 on %2</source>
        <translation>%1 am %2</translation>
    </message>
    <message>
        <source>(despite failed checks)</source>
        <translation>(trotz nicht bestandener Prüfung)</translation>
    </message>
    <message>
        <source>Reason: %1</source>
        <translation>Begründung: %1</translation>
    </message>
    <message>
        <source>(no consent text)</source>
        <translation>(kein Einwilligungstext)</translation>
    </message>
    <message>
        <source>&amp;Accept anyway…</source>
        <translation>Trotzdem &amp;annehmen…</translation>
    </message>
    <message>
        <source>No trust certificate is pinned for the key that signed this request.</source>
        <translation>Für den Schlüssel, der diese Anfrage signiert hat, ist kein Vertrauenszertifikat angeheftet.</translation>
    </message>
    <message>
        <source>%1, born %2 – identity checked by: %3
Key … %4</source>
        <translation>%1, geb. %2 – Identität geprüft durch: %3
Schlüssel … %4</translation>
    </message>
    <message>
        <source>%1, born %2</source>
        <translation>%1, geb. %2</translation>
    </message>
    <message>
        <source>Accept despite failed checks</source>
        <translation>Trotz nicht bestandener Prüfung annehmen</translation>
    </message>
    <message>
        <source>This request did not pass every check. Accept it only if you have confirmed with the patient in person or by phone that the request is genuine.</source>
        <translation>Diese Anfrage hat nicht alle Prüfungen bestanden. Nehmen Sie sie nur an, wenn Sie persönlich oder telefonisch mit der Patientin / dem Patienten geklärt haben, dass die Anfrage echt ist.</translation>
    </message>
    <message>
        <source>Accept anyway</source>
        <translation>Trotzdem annehmen</translation>
    </message>
    <message>
        <source>I have checked this request myself</source>
        <translation>Ich habe diese Anfrage selbst geprüft</translation>
    </message>
    <message>
        <source>The patient is told that the request was declined. Your reason goes to the patient encrypted: the platform cannot read it. If no key is pinned for this patient, the reason stays in the practice.</source>
        <translation>Die Patientin / der Patient erfährt, dass die Anfrage abgelehnt wurde. Ihre Begründung geht verschlüsselt an sie / ihn: Die Plattform kann sie nicht lesen. Ist für diese Person kein Schlüssel hinterlegt, bleibt die Begründung in der Praxis.</translation>
    </message>
    <message>
        <source>Decline</source>
        <translation>Ablehnen</translation>
    </message>
    <message>
        <source>Add files for %1</source>
        <translation>Dateien für %1 hinzufügen</translation>
    </message>
</context>
<context>
    <name>RequestsPage</name>
    <message>
        <source>Find: patient no. or request id</source>
        <translation>Suchen: Patientennr. oder Anfrage-ID</translation>
    </message>
    <message>
        <source>Find requests</source>
        <translation>Anfragen suchen</translation>
    </message>
    <message>
        <source>Requests</source>
        <translation>Anfragen</translation>
    </message>
    <message>
        <source>Drop request e-mails here (.eml, Outlook .msg) to add them</source>
        <translation>Anfrage-E-Mails hierher ziehen (.eml, Outlook .msg), um sie aufzunehmen</translation>
    </message>
    <message>
        <source>Checking the dropped e-mails…</source>
        <translation>Die abgelegten E-Mails werden geprüft…</translation>
    </message>
    <message>
        <source>%1 new request(s) from the dropped e-mails.</source>
        <translation>%1 neue Anfrage(n) aus den abgelegten E-Mails.</translation>
    </message>
    <message>
        <source>The dropped e-mails hold no new request (already received).</source>
        <translation>Die abgelegten E-Mails enthalten keine neue Anfrage (schon empfangen).</translation>
    </message>
    <message>
        <source>(not in the PMS)</source>
        <translation>(nicht im PVS)</translation>
    </message>
    <message>
        <source>The request states: %1, born %2</source>
        <translation>Die Anfrage gibt an: %1, geb. %2</translation>
    </message>
    <message>
        <source>PMS: %1, born %2 – the request states: %3, born %4</source>
        <translation>PVS: %1, geb. %2 – die Anfrage gibt an: %3, geb. %4</translation>
    </message>
    <message>
        <source>Check</source>
        <translation>Prüfung</translation>
    </message>
    <message>
        <source>Patient</source>
        <translation>Patient/in</translation>
    </message>
    <message>
        <source>Born</source>
        <translation>Geboren</translation>
    </message>
    <message>
        <source>Patient no.</source>
        <translation>Patientennr.</translation>
    </message>
    <message>
        <source>Documents</source>
        <translation>Unterlagen</translation>
    </message>
    <message>
        <source>Period</source>
        <translation>Zeitraum</translation>
    </message>
    <message>
        <source>Received</source>
        <translation>Eingang</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Status</translation>
    </message>
    <message>
        <source>%1 request(s) waiting for a decision</source>
        <translation>%1 Anfrage(n) warten auf eine Entscheidung</translation>
    </message>
    <message>
        <source>No request is waiting for a decision.</source>
        <translation>Keine Anfrage wartet auf eine Entscheidung.</translation>
    </message>
</context>
<context>
    <name>SettingsPage</name>
    <message>
        <source>🔒 set by the administrator</source>
        <translation>🔒 vom Administrator festgelegt</translation>
    </message>
    <message>
        <source>Platform</source>
        <translation>Plattform</translation>
    </message>
    <message>
        <source>Delivery</source>
        <translation>Versand</translation>
    </message>
    <message>
        <source>Program</source>
        <translation>Programm</translation>
    </message>
    <message>
        <source>Practice key</source>
        <translation>Praxisschlüssel</translation>
    </message>
    <message>
        <source>Retention</source>
        <translation>Aufbewahrung</translation>
    </message>
    <message>
        <source>Practice settings (practice service)</source>
        <translation>Einstellungen der Praxis (Praxisdienst)</translation>
    </message>
    <message>
        <source>Settings of this workstation</source>
        <translation>Einstellungen dieses Arbeitsplatzes</translation>
    </message>
    <message>
        <source>Only an admin workstation can change the practice&apos;s settings: they are shown here read-only.</source>
        <translation>Die Einstellungen der Praxis kann nur ein Admin-Arbeitsplatz ändern: Hier werden sie nur angezeigt.</translation>
    </message>
    <message>
        <source>&amp;Export diagnostics…</source>
        <translation>&amp;Diagnose exportieren…</translation>
    </message>
    <message>
        <source>Export a diagnostics file for your IT provider (no patient data, no secrets)</source>
        <translation>Eine Diagnosedatei für Ihren IT-Dienstleister exportieren (keine Patientendaten, keine Geheimnisse)</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>Sprache</translation>
    </message>
    <message>
        <source>Move to the “processed” folder</source>
        <translation>In den Ordner „processed“ verschieben</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Löschen</translation>
    </message>
    <message>
        <source>After delivery</source>
        <translation>Nach dem Versand</translation>
    </message>
    <message>
        <source>Keep running in the notification area when the window is closed</source>
        <translation>Beim Schließen des Fensters im Infobereich weiterlaufen</translation>
    </message>
    <message>
        <source>Fingerprint of the practice key</source>
        <translation>Fingerabdruck des Praxisschlüssels</translation>
    </message>
    <message>
        <source>&amp;Save</source>
        <translation>&amp;Speichern</translation>
    </message>
    <message>
        <source>&amp;Test connection</source>
        <translation>Verbindung &amp;testen</translation>
    </message>
    <message>
        <source>&amp;Back up key…</source>
        <translation>Schlüssel &amp;sichern…</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>Ergebnis</translation>
    </message>
    <message>
        <source>Largest document:</source>
        <translation>Größtes Dokument:</translation>
    </message>
    <message>
        <source>Requests valid at most:</source>
        <translation>Anfragen höchstens gültig:</translation>
    </message>
    <message>
        <source>Delivered originals:</source>
        <translation>Zugestellte Originale:</translation>
    </message>
    <message>
        <source>Originals not delivered:</source>
        <translation>Nicht zugestellte Originale:</translation>
    </message>
    <message>
        <source>no limit</source>
        <translation>unbegrenzt</translation>
    </message>
    <message>
        <source> days</source>
        <translation> Tage</translation>
    </message>
    <message>
        <source>keep</source>
        <translation>behalten</translation>
    </message>
    <message>
        <source>Settings saved. The language changes at the next start.</source>
        <translation>Einstellungen gespeichert. Die Sprache wechselt beim nächsten Start.</translation>
    </message>
    <message>
        <source>Settings saved.</source>
        <translation>Einstellungen gespeichert.</translation>
    </message>
    <message>
        <source>Export diagnostics</source>
        <translation>Diagnose exportieren</translation>
    </message>
    <message>
        <source>Zip files (*.zip)</source>
        <translation>Zip-Dateien (*.zip)</translation>
    </message>
    <message>
        <source>Writing the diagnostics file…</source>
        <translation>Die Diagnosedatei wird geschrieben…</translation>
    </message>
    <message>
        <source>Diagnostics written to %1 (no patient data, no secrets).</source>
        <translation>Diagnose gespeichert unter %1 (keine Patientendaten, keine Geheimnisse).</translation>
    </message>
    <message>
        <source>Server:</source>
        <translation>Server:</translation>
    </message>
    <message>
        <source>Detailed log for support</source>
        <translation>Ausführliches Protokoll für den Support</translation>
    </message>
    <message>
        <source>Identifiers only, never patient data</source>
        <translation>Nur Kennungen, nie Patientendaten</translation>
    </message>
    <message>
        <source>Practice ID:</source>
        <translation>Praxis-ID:</translation>
    </message>
    <message>
        <source>Platform domain:</source>
        <translation>Plattform-Domain:</translation>
    </message>
    <message>
        <source>Export folder:</source>
        <translation>Exportordner:</translation>
    </message>
    <message>
        <source>File name pattern:</source>
        <translation>Dateinamen-Muster:</translation>
    </message>
    <message>
        <source>After delivery:</source>
        <translation>Nach dem Versand:</translation>
    </message>
    <message>
        <source>E-mails of finished requests:</source>
        <translation>E-Mails erledigter Anfragen:</translation>
    </message>
    <message>
        <source>Language:</source>
        <translation>Sprache:</translation>
    </message>
    <message>
        <source>Fingerprint:</source>
        <translation>Fingerabdruck:</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>Durchsuchen…</translation>
    </message>
    <message>
        <source>Choose the export folder</source>
        <translation>Exportordner auswählen</translation>
    </message>
    <message>
        <source>Export folder</source>
        <translation>Exportordner</translation>
    </message>
    <message>
        <source>(not set up yet)</source>
        <translation>(noch nicht eingerichtet)</translation>
    </message>
    <message>
        <source>Nothing changed.</source>
        <translation>Nichts geändert.</translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation>Verbindung wird aufgebaut…</translation>
    </message>
    <message>
        <source>✔ Connected to %1</source>
        <translation>✔ Verbunden mit %1</translation>
    </message>
    <message>
        <source>✖ No connection: %1</source>
        <translation>✖ Keine Verbindung: %1</translation>
    </message>
</context>
<context>
    <name>SetupWizard</name>
    <message>
        <source>Browse…</source>
        <translation>Durchsuchen…</translation>
    </message>
    <message>
        <source>Set up Practice Client</source>
        <translation>Practice Client einrichten</translation>
    </message>
    <message>
        <source>Welcome</source>
        <translation>Willkommen</translation>
    </message>
    <message>
        <source>This assistant connects the practice to the patient platform. You need the platform address, your practice ID, the access token and the platform&apos;s identity key file. At the end the practice key is created; please make a backup of it.</source>
        <translation>Dieser Assistent verbindet die Praxis mit der Patientenplattform. Sie brauchen die Adresse der Plattform, Ihre Praxis-ID, das Zugangstoken und die Datei mit dem Identitätsschlüssel der Plattform. Zum Schluss wird der Praxisschlüssel erzeugt; bitte legen Sie davon eine Sicherung an.</translation>
    </message>
</context>
<context>
    <name>Tray</name>
    <message>
        <source>Open Practice Client</source>
        <translation>Practice Client öffnen</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>Beenden</translation>
    </message>
    <message>
        <source>Connected</source>
        <translation>Verbunden</translation>
    </message>
    <message>
        <source>Offline</source>
        <translation>Keine Verbindung</translation>
    </message>
    <message>
        <source>Needs attention</source>
        <translation>Braucht Aufmerksamkeit</translation>
    </message>
    <message>
        <source>Practice Client – %1</source>
        <translation>Practice Client – %1</translation>
    </message>
    <message>
        <source>New request</source>
        <translation>Neue Anfrage</translation>
    </message>
    <message>
        <source>%1 new request(s) are waiting for a decision.</source>
        <translation>%1 neue Anfrage(n) warten auf eine Entscheidung.</translation>
    </message>
    <message>
        <source>Delivery problem</source>
        <translation>Problem beim Versand</translation>
    </message>
    <message>
        <source>A delivery failed.</source>
        <translation>Ein Versand ist fehlgeschlagen.</translation>
    </message>
    <message>
        <source>Shared document quarantined</source>
        <translation>Geteiltes Dokument in Quarantäne</translation>
    </message>
</context>
</TS>
