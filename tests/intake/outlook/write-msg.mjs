// Writes an Outlook .msg the way a mail program keeps a received e-mail: the transport
// headers as text, the decoded plain-text body, each attachment's bytes. Input: JSON on
// stdin {output, from, to[], subject, date, headers, body, attachments: [{name, data (base64)}]}.
import { Attachment, Email } from "@tutao/oxmsg";
import { readFileSync, writeFileSync } from "node:fs";

const spec = JSON.parse(readFileSync(0, "utf8"));
const email = new Email();
email.sender(spec.from).subject(spec.subject).bodyText(spec.body).sentOn(new Date(spec.date));
email.receivedOn(new Date(spec.date)).headers(spec.headers);
for (const to of spec.to) email.to(to);
for (const a of spec.attachments) email.attach(new Attachment(Buffer.from(a.data, "base64"), a.name));
writeFileSync(spec.output, email.msg());
