//! The generic-secrets part of the corpus: credentials with no vendor format, assigned in every syntax issue 21
//! lists (.env, compose, properties, INI, shell, source code, CLI flags, function arguments, SQL, XML,
//! connection strings, Authorization headers, credential URLs of every scheme), and hard negatives of every
//! false-positive class it lists (token counts, attribute paths, calls, placeholders and templates, credential
//! URLs on local or example hosts, `DUMMY_`/`FAKE_`/`TEST_` names, password hashes, IAM action names, an AWS key
//! id inside a presigned URL, tokenizer vocabulary, the empty `SECRET=` line before another assignment).
//!
//! Every case is a one-file text written for keysweep (never taken from a public benchmark); its secret is a
//! marker (`«P»`, `«T»`…) replaced by a fresh random value of that shape on every seed. Four lists:
//! - `DEV`: planted by `gen::generate`, so the accuracy test requires exactly these findings;
//! - `GAPS`: real secrets keysweep does not find yet (formats and contexts still open in issue 21): counted as
//!   misses by the precision/recall report, never planted in the exact corpus;
//! - `HOLDOUT`: written once before the classifier was tuned and never tuned on: the precision/recall report
//!   shows how the classifier does on lines it was not fitted to.
//! - `HOLDOUT2`: ~180 lines written once before keysweep was run on them, to measure how the extractor and the
//!   classifier generalise; the mechanisms of its first run's misses were then fixed, so it is held out no
//!   longer and the test holds its counts exactly.
//! - `HOLDOUT3`: ~180 lines shaped like what a hand-labeller meets in public repositories (PHP, Ruby, the JVM,
//!   .NET, package-manager credential files, Terraform, Helm, Ansible, notebooks, SQL dumps, logs, comments,
//!   weak human passwords; i18n strings, form fields, digests, ids, public keys, redactions), written before
//!   keysweep was run on it; fixed against since, so held out no longer either: the test holds its counts.
//! - `HOLDOUT4`: ~250 lines from the languages and files the first three cover thinly or not at all (Go, Rust,
//!   C/Arduino, Swift/Objective-C, PowerShell, batch, Makefiles, Dockerfiles, web-server configs, Android,
//!   Postman, Markdown snippets, CI, Kubernetes `data:`, `.pgpass`, Docker auths, SQL rows, LDAP, frameworks,
//!   host configs), written before keysweep was run on it (first run P 0.965 R 0.643 F1 0.772); fixed
//!   against since, so held out no longer: the test holds its counts.
//! - `HOLDOUT5`: ~250 lines for the long tail of a labelled-lines benchmark from public repositories
//!   (documentation, test helpers, long-tail keywords, values on the next line, human passwords, infrastructure
//!   code, host tools, less common languages), written before keysweep was run on it (first run P 0.980
//!   R 0.749 F1 0.849); fixed against since, so held out no longer: the test holds its counts.
use super::{Rng, Tree, ALNUM, B64, B64URL, HEX};
use std::io;

/// What a case must yield: the rule that reports its marker's value, or nothing.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    Find(&'static str),
    Nothing,
}
use Expect::{Find, Nothing};

/// `(file name, text, expectation)`; the text holds at most one marker whose value is the labelled secret.
pub type Case = (&'static str, &'static str, Expect);

const PW: &str = "generic.password-assignment";
const SEC: &str = "generic.secret-assignment";
const CLI: &str = "generic.cli-credential-flag";
const FN: &str = "generic.function-argument";
const SQL: &str = "generic.sql-password";
const XML: &str = "generic.xml-element";
const BEARER: &str = "generic.bearer-token";
const BASIC: &str = "generic.basic-auth-header";
const URL: &str = "generic.url-credentials";
const NAMED: &str = "generic.named-value";
const PEM_CHAIN: &str = "private-key.literal-chain";
const GOOGLE_RT: &str = "google.oauth-refresh-token";
const NATS: &str = "nats.nkey-seed";
const TWILIO_PAIR: &str = "twilio.auth-token-with-sid";
const TWILIO_BEFORE: &str = "twilio.auth-token-before-sid";

pub const DEV: &[Case] = &[
    // --- unquoted values: .env, compose, properties, INI, shell ---
    (".env", "ADMIN_PASSWORD=«P»\n", Find(PW)),
    (".env", "API_KEY=«T»\n", Find(SEC)),
    ("docker-compose.yml", "services:\n  db:\n    environment:\n      - POSTGRES_PASSWORD=«P»\n", Find(PW)),
    ("docker-compose.yaml", "services:\n  db:\n    environment:\n      MYSQL_ROOT_PASSWORD: «P»\n", Find(PW)),
    ("application.properties", "spring.datasource.password=«P»\n", Find(PW)),
    ("settings.ini", "[db]\nhost = db1\npassword = «P»\n", Find(PW)),
    ("deploy.sh", "#!/bin/sh\nexport DB_PASS=«P»\n", Find(PW)),
    (".env", "DB_PWD=«W»\n", Find(PW)),
    (".env", "INTERNAL_API_KEY=«U»\n", Find(SEC)),
    (".env", "SMTP_PASSWORD=«PCT»\n", Find(PW)),
    ("libpq.env", "DSN=\"host=db1 user=app password=«P» dbname=shop\"\n", Find(PW)),
    // --- quoted values in source code and config ---
    ("settings.py", "SECRET_KEY = \"«B»\"\n", Find(SEC)),
    ("app.js", "const apiKey = '«T»';\n", Find(SEC)),
    ("main.go", "signingKey := \"«T»\"\n", Find(SEC)),
    ("App.java", "private static final String CLIENT_SECRET = \"«T»\";\n", Find(SEC)),
    ("config.toml", "consumer_key = \"«T»\"\n", Find(SEC)),
    ("conf.yaml", "access_key: «S»\n", Find(SEC)),
    ("settings.py", "HASH_SALT = \"«T»\"\n", Find(SEC)),
    ("auth.json", "{\"auth\": \"«T»\"}\n", Find(SEC)),
    ("creds.yaml", "credentials: «B»\n", Find(SEC)),
    ("config.php", "'password' => '«P»',\n", Find(PW)),
    ("main.rs", "let token = \"«T»\";\n", Find(SEC)),
    ("crypto.yaml", "encryption_key: «H»\n", Find(SEC)),
    ("Program.cs", "var pw = \"«P»\";\n", Find(PW)),
    ("db.rb", "password = \"«PCT»\"\n", Find(PW)),
    ("server.xml", "<Resource name=\"jdbc/app\" username=\"app\" password=\"«P»\" />\n", Find(PW)),
    // --- CLI flags ---
    ("backup.sh", "mysqldump -u root -p«P» shop > shop.sql\n", Find(CLI)),
    ("redis.sh", "redis-server --requirepass «P»\n", Find(CLI)),
    ("ci.sh", "./cli login --token=«T»\n", Find(CLI)),
    ("push.sh", "docker login -u ci --password «P» registry.corp-a1.dev\n", Find(CLI)),
    ("tool.sh", "ingest --api-key «T» --verbose\n", Find(CLI)),
    // --- function arguments ---
    ("client.py", "client.set_auth_token(\"«T»\")\n", Find(FN)),
    ("db.py", "conn = login(\"admin\", \"«P»\")\n", Find(FN)),
    ("Ds.java", "ds.setPassword(\"«P»\");\n", Find(FN)),
    // --- SQL ---
    ("init.sql", "CREATE USER app IDENTIFIED BY '«P»';\n", Find(SQL)),
    ("roles.sql", "CREATE ROLE reader LOGIN PASSWORD '«P»';\n", Find(SQL)),
    ("alter.sql", "ALTER USER svc WITH PASSWORD '«P»';\n", Find(SQL)),
    // --- XML elements ---
    ("settings.xml", "<server>\n  <id>corp</id>\n  <password>«P»</password>\n</server>\n", Find(XML)),
    ("app.config", "<config><apiToken>«T»</apiToken></config>\n", Find(XML)),
    // --- connection strings ---
    ("appsettings.json", "{\"Db\": \"Server=db1.corp-a1.net;Database=shop;User Id=app;Password=«P»;\"}\n", Find("database.connection-string-password")),
    // --- Authorization ---
    ("call.sh", "curl -H \"Authorization: Bearer «T»\" https://api.corp-a1.dev/v1\n", Find(BEARER)),
    ("client.ts", "const headers = { Authorization: `Bearer «B»` };\n", Find(BEARER)),
    ("auth.py", "auth = \"Basic «BASIC»\"\n", Find(BASIC)),
    // --- credential URLs of every scheme ---
    ("nats.yaml", "url: nats://svc:«P2»@nats.corp-a1.io:4222\n", Find(URL)),
    ("upload.sh", "curl -T f.tgz ftp://deploy:«P2»@files.corp-a1.net/upload/\n", Find(URL)),
    (".env", "SMTP_URL=smtp://mailer:«P2»@smtp.mailhost-a1.io:587\n", Find(URL)),
    ("ldap.conf", "uri ldap://binder:«P2»@ldap.corp-a1.net\n", Find(URL)),
    (".env", "BROKER_URL=amqp://app:«P2»@mq.k8s-a1.internal:5672//\n", Find("database.amqp-url")), // keysweep:allow (a marker, not a password)
    (".env", "MONGO_URI=mongodb+srv://ml:«P2»@cluster0.ab1cd.mongodb.net/db\n", Find("database.mongodb-url")), // keysweep:allow (a marker, not a password)
    (".env", "REDIS_URL=redis://:«P2»@cache.corp-a1.io:6379/0\n", Find("database.redis-url")), // keysweep:allow (a marker, not a password)
    // --- a Google OAuth refresh token (`1//0…`, two slashes): its own format, under any name ---
    ("token.json", "{\"refresh_token\": \"«RT»\"}\n", Find(GOOGLE_RT)),
    ("gdrive.py", "creds = Credentials(None, rt=\"«RT»\", client_id=CID)\n", Find(GOOGLE_RT)),
    // --- the sibling of a name/value pair names the credential ---
    ("web.config", "<add key=\"ApiKey\" value=\"«T»\" />\n", Find(NAMED)),
    ("secrets.json", "{\"description\": \"WANDB_API_KEY\", \"value\": \"«T»\"}\n", Find(NAMED)),
    ("task-def.json", "{\"containerDefinitions\": [{\"environment\": [\n  {\"name\": \"DB_PASSWORD\", \"value\": \"«P»\"}\n]}]}\n", Find(NAMED)),
    ("deploy.yaml", "spec:\n  containers:\n    - name: trainer\n      env:\n        - name: WANDB_API_KEY\n          value: «T»\n", Find(NAMED)),
    ("ci-variables.json", "[{\"key\": \"HF_TOKEN\", \"value\": \"«T»\", \"protected\": true}]\n", Find(NAMED)),
    // --- a private key written as a chain of string literals ---
    ("pem.js", "const key = \"-----BEGIN PRIVATE KEY-----\\n\" +\n  \"«PEMJS»\" +\n  \"-----END PRIVATE KEY-----\\n\";\n", Find(PEM_CHAIN)),
    ("keys.py", "PRIVATE_KEY = (\n    \"-----BEGIN RSA PRIVATE KEY-----\\n\"\n    \"«PEMPY»\"\n    \"-----END RSA PRIVATE KEY-----\\n\"\n)\n", Find(PEM_CHAIN)),
    // --- kubeconfig: a user's client key (base64 of a PEM key, decoded and scanned) and bearer token ---
    ("admin.kubeconfig", "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    client-certificate-data: «CERTB64»\n    client-key-data: «KUBEKEY»\n", Find("private-key.rsa")),
    ("kubeconfig.yaml", "apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n    token: «T»\n", Find(SEC)),
    // --- a notebook output printing a value whose name only its cell's source shows ---
    ("wandb.ipynb", "{\"cells\": [{\"cell_type\": \"code\", \"execution_count\": 1, \"metadata\": {}, \"outputs\": [{\"name\": \"stdout\", \"output_type\": \"stream\", \"text\": [\"«T»\\n\"]}], \"source\": [\"import os\\n\", \"print(os.environ[\\\"WANDB_API_KEY\\\"])\"]}], \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}\n", Find(SEC)),
    // --- NATS nkey seeds (CRC-16 checked), and a Twilio auth token beside its account SID ---
    (".env", "NATS_USER_SEED=«NKEY»\n", Find(NATS)),
    ("user.creds", "-----BEGIN USER NKEY SEED-----\n«NKEY»\n------END USER NKEY SEED------\n", Find(NATS)),
    ("sms.py", "from sms import Client\naccount = \"AC5f0c1e9b7d3a4b8ea6f02c9d1e8b7a43\"\nsecret = \"«H»\"\nclient = Client(account, secret)\n", Find(TWILIO_PAIR)),
    // ...or written before it, in any syntax
    ("sms.env", "SMS_AUTH_TOKEN=«H»\nSMS_ACCOUNT_SID=AC5f0c1e9b7d3a4b8ea6f02c9d1e8b7a43\n", Find(TWILIO_BEFORE)),
    ("notify.json", "{\"auth_token\": \"«H»\", \"account_sid\": \"AC5f0c1e9b7d3a4b8ea6f02c9d1e8b7a43\"}\n", Find(TWILIO_BEFORE)),
    ("sms.yaml", "sms:\n  auth_token: «H»\n  from: \"+15550100\"\n  account_sid: AC5f0c1e9b7d3a4b8ea6f02c9d1e8b7a43\n", Find(TWILIO_BEFORE)),
    // --- encrypted private keys: reported, at lower confidence (see `encrypted_private_key`), also as a chain of
    // string literals whose header literals say `Proc-Type: 4,ENCRYPTED` ---
    ("pem.js", "const key = \"-----BEGIN RSA PRIVATE KEY-----\\n\" +\n  \"Proc-Type: 4,ENCRYPTED\\n\" +\n  \"DEK-Info: AES-128-CBC,«IV»\\n\" +\n  \"\\n\" +\n  \"«PEMENCJS»\" +\n  \"-----END RSA PRIVATE KEY-----\\n\";\n", Find(PEM_CHAIN)),
    ("keys.py", "KEY = (\n    \"-----BEGIN EC PRIVATE KEY-----\\n\"\n    \"Proc-Type: 4,ENCRYPTED\\n\"\n    \"DEK-Info: DES-EDE3-CBC,«IV8»\\n\\n\"\n    \"«PEMENCPY»\"\n    \"-----END EC PRIVATE KEY-----\\n\"\n)\n", Find(PEM_CHAIN)),
    // --- kubeconfig in JSON form (`kubectl config view -o json`): client key decoded, token read ---
    ("kubeconfig.json", "{\n    \"kind\": \"Config\",\n    \"apiVersion\": \"v1\",\n    \"users\": [\n        {\n            \"name\": \"admin\",\n            \"user\": {\n                \"client-certificate-data\": \"«CERTB64»\",\n                \"client-key-data\": \"«KUBEKEY»\"\n            }\n        }\n    ]\n}\n", Find("private-key.rsa")),
    ("config.json", "{\"kind\":\"Config\",\"users\":[{\"name\":\"ci\",\"user\":{\"client-key-data\":\"«KUBEKEY»\"}}]}\n", Find("private-key.rsa")),
    ("kubeconfig.json", "{\"kind\": \"Config\", \"users\": [{\"name\": \"ci\", \"user\": {\"token\": \"«T»\"}}]}\n", Find(SEC)),
    // --- HOLDOUT4's fixes: build-file variables, credential constructors, server directives, markup pairs,
    // Objective-C strings, `Authorization: Token`, settings rows, `.pgpass` lines and Docker auths ---
    ("arduino_secrets.h", "#define SECRET_SSID \"corp-guest\"\n#define SECRET_PASS \"«P»\"\n", Find("generic.build-variable")),
    ("Dockerfile", "FROM alpine:3.20\nENV DB_PASSWORD «P»\n", Find("generic.build-variable")),
    ("Makefile", "API_TOKEN ?= «T»\n", Find("generic.build-variable")),
    ("notify.go", "auth := smtp.PlainAuth(\"\", \"alerts@corp-a1.com\", \"«P»\", \"smtp.corp-a1.com\")\n", Find("generic.credential-arguments")),
    ("Mailer.cs", "var credential = new NetworkCredential(\"svc\", \"«P»\");\n", Find("generic.credential-arguments")),
    ("deploy.ps1", "$password = ConvertTo-SecureString \"«P»\" -AsPlainText -Force\n", Find("generic.powershell-securestring")),
    ("nslcd.conf", "binddn cn=nslcd,dc=corp-a1,dc=net\nbindpw «P»\n", Find("generic.server-directive")),
    ("haproxy.cfg", "listen stats\n    stats auth admin:«P»\n", Find("generic.server-directive")),
    ("ci.sh", "echo \"«T»\" | docker login -u ci --password-stdin registry.corp-a1.net\n", Find("generic.stdin-login")),
    ("Info.plist", "\t<key>APIKey</key>\n\t<string>«T»</string>\n", Find("generic.markup-value")),
    ("persistence.xml", "<property name=\"javax.persistence.jdbc.password\" value=\"«P»\"/>\n", Find("generic.markup-value")),
    ("Constants.m", "NSString *const kClientSecret = @\"«T»\";\n", Find("generic.objc-string")),
    ("deploy.mk", "\tcurl -H \"Authorization: Token «H40»\" https://api.corp-a1.io/deploy\n", Find("generic.authorization-scheme")),
    ("dump.sql", "INSERT INTO `wp_options` VALUES (412,'mailserver_pass','«P»','yes');\n", Find("generic.option-row")),
    (".pgpass", "db1.corp-a1.net:5432:app:app:«P»\n", Find(PW)),
    ("config.json", "{\"auths\": {\"registry.corp-a1.net\": {\"auth\": \"«DAUTH»\"}}}\n", Find(PW)),

    // ===== hard negatives =====
    // a `.pgpass` default, a header's name as a name/value pair's value, a PGP-encrypted token (Renovate)
    (".pgpass", "localhost:5432:*:postgres:postgres\n", Nothing),
    ("collection.json", "{\"key\": \"key\", \"value\": \"X-API-Key\"}\n", Nothing),
    ("renovate.json", "{\"encrypted\": {\"token\": \"wcFMA«B»«B»\"}}\n", Nothing),
    // the empty `SECRET=` line does not take the next line as its value
    (".env", "SECRET=\nBUILD_ID=«T»\n", Nothing),
    (".env", "API_TOKEN=\nRELEASE_CHANNEL=stable-«S»\n", Nothing),
    // token counts, attribute paths, calls, minified members (in AI code "token" is vocabulary)
    ("usage.json", "{\"usage\": {\"prompt_tokens\": 1532, \"completion_tokens\": 211, \"total_tokens\": 1743}}\n", Nothing),
    ("stats.py", "total = x_groq.usage.prompt_tokens + x_groq.usage.completion_tokens\n", Nothing),
    ("model.py", "num_tokens = cfg.max_position_embeddings\n", Nothing),
    ("model.py", "token_embeds = text_encoder.get_input_embeddings().weight\n", Nothing),
    ("model.py", "self.token_refiner = TokenRefinerBlock(\n    hidden_size=hidden,\n)\n", Nothing),
    ("model.py", "token_type_embeddings = self.embeddings.token_type_embeddings\n", Nothing),
    ("bundle.min.js", "var a={token:n.accessToken,secret:r.clientSecret};e.token=t.sessionToken;\n", Nothing),
    ("tok.py", "tokenizer.pad_token = tokenizer.eos_token\n", Nothing),
    ("tok.json", "{\"bos_token\": \"<|begin_of_text|>\", \"pad_token\": \"[PAD]\", \"unk_token\": \"<unk>\"}\n", Nothing),
    ("train.py", "max_new_tokens = args.max_new_tokens\n", Nothing),
    ("cache.py", "cache_key = f\"{model_name}-{revision}\"\n", Nothing),
    ("data.py", "key = \"input_ids\"\n", Nothing),
    ("cfg.yaml", "tokenizer_file: tokenizer_config.json\n", Nothing),
    // placeholders and templates
    ("config.py", "password = \"{password}\"\n", Nothing),
    ("config.rb", "password: \"#{password}\"\n", Nothing),
    ("logging.ini", "dsn = host=db user=app password=%(password)s\n", Nothing),
    (".env", "PASSWORD=$DB_PASSWORD\n", Nothing),
    ("docker-compose.yml", "      - POSTGRES_PASSWORD=${POSTGRES_PASSWORD:-postgres}\n", Nothing),
    ("test.py", "password = \"testpass\"\n", Nothing),
    ("values.yaml", "password: my-password\n", Nothing),
    ("helm.yaml", "token: {{ .Values.apiToken }}\n", Nothing),
    ("readme.py", "api_key = \"<YOUR_API_KEY>\"\n", Nothing),
    ("cfg.py", "password = None\n", Nothing),
    ("cfg.yaml", "password: null\n", Nothing),
    ("url.py", "url = f\"postgresql://{user}:{password}@{host}/{db}\"\n", Nothing),
    ("cli.py", "parser.add_argument(\"--password\", default=os.environ.get(\"PGPASSWORD\"))\n", Nothing),
    ("run.sh", "psql --password-file /run/secrets/db_password\n", Nothing),
    ("run.sh", "gh auth login --token $GITHUB_TOKEN\n", Nothing),
    ("run.sh", "docker run -p 8080:80 nginx\n", Nothing),
    ("conf.xml", "<password>${db.password}</password>\n", Nothing),
    ("init.sql", "CREATE USER app IDENTIFIED BY '<password>';\n", Nothing),
    ("api.md", "All requests use Bearer authentication; see the docs.\n", Nothing),
    ("api.md", "Basic authentication is supported for legacy clients.\n", Nothing),
    ("client.js", "headers.Authorization = \"Bearer \" + token;\n", Nothing),
    ("db.py", "conn = login(user, password)\n", Nothing),
    ("models.py", "password = models.CharField(max_length=128)\n", Nothing),
    ("auth.py", "if user.password == hashed_password:\n", Nothing),
    ("words.py", "password = \"correct horse battery staple\"\n", Nothing),
    // credential URLs on local or example hosts (tests, docs)
    ("test_db.py", "REDIS_URL = \"redis://:«P2»@localhost:6379/0\"\n", Nothing), // keysweep:allow (a marker, not a password)
    ("docs.md", "amqp://guest:«P2»@localhost:5672/\n", Nothing), // keysweep:allow (a marker, not a password)
    ("docs.md", "ftp://user:«P2»@ftp.example.com/pub\n", Nothing),
    ("conf.yaml", "url: nats://a:«P2»@nats.test:4222\n", Nothing),
    ("docs.md", "postgresql://app:«P2»@127.0.0.1:5432/app\n", Nothing),
    ("docs.md", "git clone https://bot:«P2»@example.org/repo.git\n", Nothing),
    // DUMMY_/FAKE_/TEST_/MOCK_ names
    ("fixtures.py", "DUMMY_API_KEY = \"«T»\"\n", Nothing),
    ("fixtures.py", "FAKE_PASSWORD = \"«P»\"\n", Nothing),
    (".env.test", "TEST_TOKEN=«T»\n", Nothing),
    ("conftest.py", "MOCK_SECRET = \"«B»\"\n", Nothing),
    // password hashes
    ("users.yaml", "password: \"$2b$12$«BCRYPT»\"\n", Nothing),
    ("settings.py", "ADMIN_PASSWORD = \"pbkdf2_sha256$600000$«S»$«B»\"\n", Nothing),
    ("users.yaml", "password_hash: «H64»\n", Nothing),
    ("users.json", "{\"password\": \"$6$«S»$«B»\"}\n", Nothing),
    // IAM action names and a key id inside a presigned URL
    ("policy.json", "{\"Effect\": \"Allow\", \"Action\": [\"iam:ChangePassword\", \"secretsmanager:GetSecretValue\"]}\n", Nothing),
    ("links.txt", "https://b1.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=«AKID»%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=«H64»\n", Nothing),
    // digests, ids and words under secret-ish names
    ("lock.json", "{\"token_hash\": \"«H64»\", \"secret_name\": \"prod/db/«S»\"}\n", Nothing),
    ("ids.py", "token_id = \"«U»\"\n", Nothing),
    ("auth.py", "api_key = API_KEY_FROM_ENVIRONMENT\n", Nothing),
    ("train.py", "seed = 1234\n", Nothing),
    // real-code shapes (issue 21's measurement on the Python standard library, Debian's Python packages and the
    // Rust crates of the cargo registry): in program source an unquoted value is an expression, whatever its
    // letters — a call, an attribute or member path, a type, a qualified name, a dereference
    ("sniff.py", "    delim = max(delims, key=delims.get)\n", Nothing),
    ("compat.py", "RegEnumKey = winreg.EnumKey\nRegOpenKeyEx = win32api.RegOpenKeyEx\n", Nothing),
    ("archive.py", "                    pwd = self.pwd\n", Nothing),
    ("sorter.py", "        stats.sort(reverse=True, key=Statistic._sort_key)\n", Nothing),
    ("pad.py", "    \"\"\"Editing keys:\n    KEY_LEFT = Ctrl-B, KEY_RIGHT = Ctrl-F, KEY_UP = Ctrl-P\n    \"\"\"\n", Nothing),
    ("upload.py", "    \"\"\"The config file reads:\n        [server]\n        password: sekrit\n    \"\"\"\n", Nothing),
    ("oids.rs", "pub const ID_SIGN_AUTH_EXT: crate::ObjectIdentifier =\n", Nothing),
    ("docs.rs", "//! [`SigningKey`]: crate::crypto::signer::SigningKey\n", Nothing),
    ("ffi.rs", "pub struct passwd {\n    pub pw_uid: __uid_t,\n    pub pw_passwd: *const c_char,\n}\n", Nothing),
    ("tls.rs", "    hmac_key: hmac::Key,\n    enc_key: aead::TlsRecordSealingKey,\n", Nothing),
    ("vdbe.c", "  pFrame->token = pProgram->token;\n  int iKey = iCol + 1;\n", Nothing),
    ("bindings.rs", "pub const IFLA_INET6_TOKEN: _bindgen_ty_7 = _bindgen_ty_7::IFLA_INET6_TOKEN;\n", Nothing),
    ("main.tf", "  password = var.db_password\n", Nothing),
    // quoted values a person reads as names, encodings or typed examples
    ("debfile.py", "        key = \"Conflicts\"\n", Nothing),
    ("oid.py", "    ExtensionOID.NONCE: \"OCSPNonce\",\n    AttributeOID.CHALLENGE_PASSWORD: \"challengePassword\",\n", Nothing),
    ("turtle.py", "        key = \"Turtle.\"+methodname\n", Nothing),
    ("style.py", "    Token.Name.Lvalue: \"#08547A\",\n", Nothing),
    ("params.py", "    oauth_nonce=\"4572616e48616d6d65724c61686176\",\n", Nothing),
    ("validator.py", "            'access_token': 'askfjh234as9sd8',\n", Nothing),
    ("token.py", "body = 'oauth_token=lsdkfol23w54jlksdef&oauth_token_secret=qwe089234lkjsdf'\n", Nothing),
    ("setup.cfg", "example = secret = 'XYZ12345'\n", Nothing),
    ("proxy.rs", "    let p = Proxy::http(url)?.username(\"Aladdin\").password(\"kulgrej\");\n", Nothing),
    ("url_tests.json", "{\"password\": \"%3A%40c%F0%9F%92%A9\"}\n", Nothing),
    ("jobserver.rs", "    (\"--jobserver-auth=fifo:/run/jobserver\", None),\n", Nothing),
    ("header.rs", "    super::parameter(b\"key='foo=bar'\")\n", Nothing),
    ("README.md", "[![codecov](https://codecov.io/gh/o/r/graph/badge.svg?token=«S»)](https://codecov.io/gh/o/r)\n", Nothing),
    ("README.md", "<img alt=\"cov\" src=\"https://img.shields.io/codecov/c/gh/o/r?logo=codecov&token=«S»\">\n", Nothing),
    // name/value pairs whose name is no credential's, or whose value is a word, a number or a URL
    ("deploy.yaml", "env:\n  - name: LOG_LEVEL\n    value: «T»\n", Nothing),
    ("task-def.json", "{\"environment\": [{\"name\": \"MAX_TOKENS\", \"value\": \"4096\"}]}\n", Nothing),
    ("deploy.yaml", "env:\n  - name: TOKEN_URL\n    value: https://auth.corp-a1.dev/oauth/token\n", Nothing),
    ("web.config", "<add key=\"PasswordExpiryDays\" value=\"90\" />\n", Nothing),
    ("task-def.json", "{\"name\": \"SECRET_PROVIDER\", \"value\": \"hashicorp-vault\"}\n", Nothing),
    ("deploy.yaml", "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef: {name: db, key: password}\n", Nothing),
    // a concatenated string that is no key, a key's chain that is not literal, and a public nkey or a seed with a
    // wrong checksum
    ("msg.js", "const help = \"-----BEGIN PRIVATE KEY-----\\n\" +\n  \"«T»\\n\" +\n  \"«T»\\n\" +\n  \"«T»\\n\";\n", Nothing),
    ("pem.js", "const key = \"-----BEGIN PRIVATE KEY-----\\n\" + body + \"\\n-----END PRIVATE KEY-----\";\n", Nothing),
    ("nats.conf", "authorization {\n  users: [ { nkey: «NKEYPUB» } ]\n}\n", Nothing),
    (".env", "NATS_USER_SEED=«NKEYBAD»\n", Nothing),
    // a notebook output under tokenizer vocabulary, or under no name at all
    ("tok.ipynb", "{\"cells\": [{\"cell_type\": \"code\", \"execution_count\": 1, \"metadata\": {}, \"outputs\": [{\"name\": \"stdout\", \"output_type\": \"stream\", \"text\": [\"«T»\\n\"]}], \"source\": [\"print(tokenizer.pad_token)\"]}], \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}\n", Nothing),
    ("run.ipynb", "{\"cells\": [{\"cell_type\": \"code\", \"execution_count\": 1, \"metadata\": {}, \"outputs\": [{\"name\": \"stdout\", \"output_type\": \"stream\", \"text\": [\"«T»\\n\"]}], \"source\": [\"print(run.id)\"]}], \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}\n", Nothing),
    // a kubeconfig's certificates are public: neither is reported, in YAML or JSON
    ("kubeconfig.json", "{\"kind\": \"Config\", \"clusters\": [{\"cluster\": {\"certificate-authority-data\": \"«CERTB64»\"}}], \"users\": [{\"name\": \"admin\", \"user\": {\"client-certificate-data\": \"«CERTB64»\"}}]}\n", Nothing),
    ("kubeconfig.yaml", "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: «CERTB64»\n    server: https://k8s.corp-a1.dev:6443\n  name: prod\nusers:\n- name: admin\n  user:\n    client-certificate-data: «CERTB64»\n", Nothing),
    // a refresh-token-like string with a bad shape (too short, a path) is no refresh token
    ("token.json", "{\"refresh_token\": \"1//0«S»\"}\n", Nothing),
    ("paths.txt", "gs://bucket/1//0«T»«T»\n", Nothing),
    // an account SID beside a hex value that is no token, before it or after it
    ("sms.py", "message_sid = \"«H»\"\naccount = \"AC5f0c1e9b7d3a4b8ea6f02c9d1e8b7a43\"\n", Nothing),
    // a chain with encrypted-key headers around text that is no cipher text
    ("msg.js", "const help = \"-----BEGIN RSA PRIVATE KEY-----\\n\" +\n  \"Proc-Type: 4,ENCRYPTED\\n\" +\n  \"DEK-Info: AES-128-CBC,«IV»\\n\\n\" +\n  \"«T»\\n\" +\n  \"«T»\\n\";\n", Nothing),
    ("sms.py", "account = \"AC5f0c1e9b7d3a4b8ea6f02c9d1e8b7a43\"\nmessage_sid = \"«H»\"\n", Nothing),
    // ...while a value inside a string literal of program source is a literal, and .env, YAML and shell values
    // are literals quoted or not
    ("db.py", "DSN = \"host=db1 user=app password=«P» dbname=shop\"\n", Find(PW)),
    ("deploy.yaml", "env:\n  API_TOKEN: «T»\n", Find(SEC)),
    // a comment of program source that names a type, and an error code with its message (HOLDOUT3's fixes
    // read comments and first arguments: neither is a secret)
    ("typing.py", "    # key: _KTX_contra in the protocol is contravariant\n", Nothing),
    ("errors.py", "    raise ApiError(\"ExpiredToken\", \"The session token has expired.\")\n", Nothing),
];

/// Real secrets in shapes or formats keysweep does not report yet (issue 21, still open).
pub const GAPS: &[Case] = &[];

/// Written once before any tuning; the precision/recall report only.
pub const HOLDOUT: &[Case] = &[
    (".env.production", "STRIPE_WEBHOOK_SECRET=«T»\n", Find(SEC)),
    ("config.yml", "  db_password: «P»\n", Find(PW)),
    (
        "settings.js",
        "module.exports = { sessionSecret: '«B»' };\n",
        Find(SEC),
    ),
    ("Config.kt", "val apiKey = \"«T»\"\n", Find(SEC)),
    ("main.tf", "  master_password = \"«P»\"\n", Find(PW)),
    ("vars.sh", "MYSQL_PWD=«P» mysql -u app shop\n", Find(PW)),
    ("conn.sh", "mysql -h db1 -u admin -p«P»\n", Find(CLI)),
    ("app.py", "client = Client(api_key=\"«T»\")\n", Find(SEC)),
    ("Startup.cs", "options.ClientSecret = \"«T»\";\n", Find(SEC)),
    ("settings.xml", "<secretKey>«B»</secretKey>\n", Find(XML)),
    (
        "grant.sql",
        "GRANT ALL ON shop.* TO 'app'@'%' IDENTIFIED BY '«P»';\n",
        Find(SQL),
    ),
    (
        "hook.py",
        "requests.post(url, headers={\"Authorization\": \"Bearer «T»\"})\n",
        Find(BEARER),
    ),
    (
        "celery.py",
        "broker_url = \"amqps://worker:«P2»@mq.corp-b2.net:5671/vhost\"\n", // keysweep:allow (a marker)
        Find("database.amqp-url"),
    ), // keysweep:allow (a marker, not a password)
    (
        "sync.sh",
        "lftp ftps://sync:«P2»@backup.corp-b2.net\n",
        Find(URL),
    ),
    (".npmrc", "_auth_token=«U»\n", Find(SEC)),
    ("config.ini", "[api]\nauth_key = «S»\n", Find(SEC)),
    // negatives
    (
        "config.py",
        "SECRET_KEY = os.environ[\"SECRET_KEY\"]\n",
        Nothing,
    ),
    (
        "model.py",
        "self.num_key_value_heads = config.num_key_value_heads\n",
        Nothing,
    ),
    (
        "gen.py",
        "output_tokens = model.generate(input_ids, max_new_tokens=256)\n",
        Nothing,
    ),
    ("cfg.yaml", "password: ${DB_PASSWORD}\n", Nothing),
    (
        "docs.md",
        "Set `password = \"<your password>\"` in the config.\n",
        Nothing,
    ),
    ("test_auth.py", "FAKE_TOKEN = \"«T»\"\n", Nothing),
    (
        "users.sql",
        "INSERT INTO users VALUES ('admin', '$2a$10$«BCRYPT»');\n",
        Nothing,
    ),
    ("docs.md", "mongodb://root:«P2»@localhost:27017\n", Nothing), // keysweep:allow (a marker, not a password)
    ("policy.json", "{\"Action\": \"iam:PassRole\"}\n", Nothing),
    (
        "vocab.py",
        "special_tokens = {\"mask_token\": \"[MASK]\", \"sep_token\": \"[SEP]\"}\n",
        Nothing,
    ),
    ("keys.py", "key_len = len(api_key)\n", Nothing),
    (
        "auth.py",
        "token = request.headers.get(\"Authorization\").split(\" \")[1]\n",
        Nothing,
    ),
];

/// Written once, before keysweep was run on it, to measure how the extractor and the classifier generalise to
/// lines neither was written for: every class of issue 21's "where the recall goes" and "where the false
/// positives come from", in the syntaxes and languages of public repositories, about as many negatives as
/// positives. Its first run's misses and false positives were read and their mechanisms fixed (see
/// `generic_secrets_precision_recall`), so it is held out no longer: the test holds its final counts exactly.
pub const HOLDOUT2: &[Case] = &[
    // --- .env, unquoted ---
    (".env", "DATABASE_PASSWORD=«P»\n", Find(PW)),
    (".env.local", "OPENROUTER_KEY=«T»\n", Find(SEC)),
    (".env", "JWT_SECRET=«B»\n", Find(SEC)),
    (".env.staging", "SESSION_SECRET=«S»\n", Find(SEC)),
    (".env", "MAIL_PASS=«P»\n", Find(PW)),
    (".env", "PINECONE_API_KEY=«U»\n", Find(SEC)),
    (".env", "ADMIN_PASS=«W»\n", Find(PW)),
    (".env", "SMTP_PASS=«PCT»\n", Find(PW)),
    // --- compose `environment:` ---
    ("docker-compose.yml", "services:\n  mq:\n    environment:\n      - RABBITMQ_DEFAULT_PASS=«P»\n", Find(PW)),
    ("compose.yaml", "services:\n  cache:\n    environment:\n      REDIS_PASSWORD: «P»\n      REDIS_PORT: 6379\n", Find(PW)),
    ("docker-compose.yml", "    environment:\n      - \"MINIO_SECRET_KEY=«T»\"\n", Find(SEC)),
    ("docker-compose.yml", "    environment:\n      - GF_SECURITY_ADMIN_PASSWORD=«P»\n", Find(PW)),
    // --- properties, INI, netrc ---
    ("application.properties", "mail.smtp.password=«P»\n", Find(PW)),
    ("gradle.properties", "signing.password=«P»\n", Find(PW)),
    ("config.properties", "api.key=«T»\n", Find(SEC)),
    ("my.cnf", "[client]\nuser=backup\npassword=«P»\n", Find(PW)),
    (".pypirc", "[pypi]\nusername = __token__\npassword = «T»\n", Find(PW)),
    ("config.ini", "[auth]\nclient_secret = «T»\n", Find(SEC)),
    ("db.ini", "[db]\npw = «P»\n", Find(PW)),
    (".netrc", "machine api.corp-c3.net login ci password «P»\n", Find(PW)),
    // --- shell export ---
    ("env.sh", "export OPENAI_API_KEY=«T»\n", Find(SEC)),
    ("setup.sh", "export PGPASSWORD=«P»\npsql -h db1 -U app\n", Find(PW)),
    (".bashrc", "export HF_TOKEN=«T»\n", Find(SEC)),
    (".bash_profile", "export AWS_SECRET_ACCESS_KEY=«B40»\n", Find(SEC)),
    // --- CLI flags ---
    ("deploy.sh", "helm upgrade --install app ./chart --set db.password=«P»\n", Find(PW)),
    ("backup.sh", "mysql -uroot -p«P» -e 'SHOW DATABASES'\n", Find(CLI)),
    ("start.sh", "redis-cli -h cache1 -a «P» ping\n", Find(CLI)),
    ("login.sh", "vault login -method=userpass username=ci password=«P»\n", Find(PW)),
    ("deploy.yml", "      - run: npx vercel deploy --prod --token=«S»\n", Find(CLI)),
    ("Makefile", "push:\n\tdocker login --username deploy --password «P» $(REGISTRY)\n", Find(CLI)),
    ("run.sh", "python train.py --wandb-api-key «H40» --epochs 3\n", Find(CLI)),
    ("release.sh", "twine upload dist/* -u __token__ -p «T»\n", Find(CLI)),
    ("curl.sh", "curl -u admin:«P» https://jenkins.corp-c3.net/api/json\n", Find(CLI)),
    // --- function arguments ---
    ("mail.py", "server.login(\"alerts@corp-c3.com\", \"«P»\")\n", Find(FN)),
    ("Auth.java", "conn.setRequestProperty(\"X-Api-Key\", \"«T»\");\n", Find(FN)),
    ("db.go", "db, err := sql.Open(\"mysql\", \"app:«P»@tcp(db1.corp-c3.net:3306)/shop\")\n", Find(URL)),
    ("client.rb", "client = Octokit::Client.new(access_token: \"«T»\")\n", Find(SEC)),
    ("api.php", "$client->setApiKey('«T»');\n", Find(FN)),
    ("upload.py", "ftp.login('deploy', '«P»')\n", Find(FN)),
    ("index.js", "const pool = new Pool({ user: 'app', password: '«P»', host: 'db1' });\n", Find(PW)),
    ("wp-config.php", "define('DB_PASSWORD', '«P»');\n", Find(FN)),
    ("Client.cs", "client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(\"Bearer\", \"«T»\");\n", Find(BEARER)),
    // --- SQL ---
    ("schema.sql", "CREATE USER 'report'@'%' IDENTIFIED BY '«P»';\n", Find(SQL)),
    ("migrate.sql", "ALTER ROLE analytics WITH LOGIN PASSWORD '«P»' VALID UNTIL 'infinity';\n", Find(SQL)),
    ("logins.sql", "CREATE LOGIN etl WITH PASSWORD = '«P»';\n", Find(SQL)),
    // --- XML elements and attributes ---
    ("settings.xml", "<settings><servers><server><id>nexus</id><username>ci</username><password>«P»</password></server></servers></settings>\n", Find(XML)),
    ("NuGet.Config", "<packageSourceCredentials>\n  <corp>\n    <add key=\"Username\" value=\"ci\" />\n    <add key=\"ClearTextPassword\" value=\"«P»\" />\n  </corp>\n</packageSourceCredentials>\n", Find(NAMED)),
    ("context.xml", "<Resource name=\"jdbc/db\" auth=\"Container\" username=\"svc\" password=\"«P»\" driverClassName=\"org.postgresql.Driver\"/>\n", Find(PW)),
    ("strings.xml", "<resources>\n    <string name=\"api_key\">«T»</string>\n</resources>\n", Find(NAMED)),
    ("config.xml", "<config><apiKey>«U»</apiKey></config>\n", Find(XML)),
    ("hibernate.cfg.xml", "<property name=\"connection.password\">«P»</property>\n", Find(NAMED)),
    // --- ADO.NET / JDBC connection strings ---
    ("appsettings.json", "{\"ConnectionStrings\": {\"DefaultConnection\": \"Data Source=sql1.corp-c3.net;Initial Catalog=Shop;User ID=sa;Password=«P»\"}}\n", Find("database.connection-string-password")),
    ("Web.config", "<add name=\"Db\" connectionString=\"Server=tcp:corp-c3.database.windows.net,1433;Database=app;User ID=app;Pwd=«P»;Encrypt=True;\" />\n", Find("database.connection-string-password")),
    ("db.properties", "jdbc.url=jdbc:mysql://db1.corp-c3.net:3306/shop?user=app&password=«P»\n", Find(PW)), // keysweep:allow (a marker)
    // --- Authorization headers ---
    ("api.http", "GET https://api.corp-c3.dev/v2/items\nAuthorization: Bearer «T»\n", Find(BEARER)),
    ("api.go", "req.Header.Set(\"Authorization\", \"Bearer «T»\")\n", Find(BEARER)),
    ("client.py", "headers = {\"Authorization\": \"Basic «BASIC»\"}\n", Find(BASIC)),
    ("nginx.conf", "location / {\n  proxy_set_header Authorization \"Basic «BASIC»\";\n}\n", Find(BASIC)),
    // --- credential URLs of every scheme ---
    (".env", "DATABASE_URL=postgres://app:«P2»@db.corp-c3.net:5432/app\n", Find("database.postgres-url")), // keysweep:allow (a marker)
    ("settings.py", "CELERY_BROKER_URL = \"redis://:«P2»@redis.corp-c3.net:6379/1\"\n", Find("database.redis-url")), // keysweep:allow (a marker)
    ("db.js", "mongoose.connect('mongodb://admin:«P2»@mongo1.corp-c3.net:27017/app');\n", Find("database.mongodb-url")), // keysweep:allow (a marker)
    ("mail.yml", "smtp_url: smtps://noreply:«P2»@smtp.corp-c3.net:465\n", Find(URL)),
    ("nats.env", "NATS_URL=nats://app:«P2»@nats.corp-c3.net:4222\n", Find(URL)),
    ("mirror.sh", "git remote add origin https://ci-bot:«T»@git.corp-c3.net/team/app.git\n", Find(URL)),
    ("iot.py", "client.connect_url(\"mqtt://sensor:«P2»@broker.corp-c3.net:1883\")\n", Find(URL)),
    ("sync.txt", "sftp://backup:«P2»@files.corp-c3.net:22/data\n", Find(URL)),
    ("mysql.env", "MYSQL_URL=mysql://root:«P2»@mysql.corp-c3.net:3306/app\n", Find("database.mysql-url")), // keysweep:allow (a marker)
    ("ldap.yaml", "bind_url: ldaps://cn=admin:«P2»@ldap.corp-c3.net:636\n", Find(URL)),
    // --- keywords ---
    ("settings.py", "SIGNING_KEY = \"«B»\"\n", Find(SEC)),
    ("config.yaml", "salt: «T»\n", Find(SEC)),
    ("secrets.yml", "auth: «T»\n", Find(SEC)),
    ("deploy.yaml", "credential: «B»\n", Find(SEC)),
    ("conf.py", "PASS = \"«P»\"\n", Find(PW)),
    ("login.js", "const pwd = '«P»';\n", Find(PW)),
    ("twitter.py", "consumer_key = \"«T»\"\n", Find(SEC)),
    ("oauth.json", "{\"client_id\": \"web-app\", \"client_secret\": \"«T»\"}\n", Find(SEC)),
    ("s3.tf", "provider \"aws\" {\n  region     = \"us-east-1\"\n  secret_key = \"«B40»\"\n}\n", Find(SEC)),
    ("config.toml", "[api]\nkey = \"«T»\"\n", Find(SEC)),
    ("app.yaml", "api:\n  key: «B»\n", Find(SEC)),
    ("crypto.yml", "master_key: «H64»\n", Find(SEC)),
    // --- UUID-valued keys, short tokens, passwords with `%` ---
    ("config.py", "HEROKU_API_KEY = \"«U»\"\n", Find(SEC)),
    ("settings.json", "{\"apiKey\": \"«U»\"}\n", Find(SEC)),
    ("config.yml", "api_token: «S10»\n", Find(SEC)),
    ("db.yaml", "database:\n  password: «PCT»\n", Find(PW)),
    // --- more languages ---
    ("Secrets.swift", "let apiSecret = \"«T»\"\n", Find(SEC)),
    ("config.rs", "const API_TOKEN: &str = \"«T»\";\n", Find(SEC)),
    ("Settings.kt", "const val DB_PASSWORD = \"«P»\"\n", Find(PW)),
    ("config.ts", "export const authToken = \"«T»\";\n", Find(SEC)),
    ("config.exs", "config :app, App.Repo, username: \"app\", password: \"«P»\"\n", Find(PW)),
    ("prod.tfvars", "db_password = \"«P»\"\n", Find(PW)),
    ("values.yaml", "auth:\n  rootPassword: «P»\n", Find(PW)),
    ("build.gradle", "credentials {\n    username 'ci'\n    password '«P»'\n}\n", Find(PW)),
    ("setup.py", "os.environ[\"ANTHROPIC_API_KEY\"] = \"«T»\"\n", Find(SEC)),
    ("config.json", "{\"webhook_secret\": \"«H»\"}\n", Find(SEC)),
    ("auth.yaml", "basic_auth:\n  username: admin\n  password: «P»\n", Find(PW)),
    ("Config.scala", "val secretKey = \"«B»\"\n", Find(SEC)),
    ("main.dart", "const String apiKey = '«T»';\n", Find(SEC)),
    ("init.lua", "local token = \"«T»\"\n", Find(SEC)),
    ("app.r", "Sys.setenv(OPENAI_API_KEY = \"«T»\")\n", Find(SEC)),

    // ===== negatives =====
    // token counts
    ("response.json", "{\"usage\": {\"input_tokens\": 812, \"output_tokens\": 96}}\n", Nothing),
    ("metrics.py", "tokens_per_second = num_tokens / elapsed\n", Nothing),
    ("bench.py", "total_token_count = response.usage_metadata.total_token_count\n", Nothing),
    ("run.log", "prompt_tokens=1532 completion_tokens=211 total_tokens=1743\n", Nothing),
    // member paths, lookups and calls
    ("auth.ts", "const token = this.authService.currentToken;\n", Nothing),
    ("views.py", "password = form.cleaned_data[\"password\"]\n", Nothing),
    ("Handler.java", "String apiKey = request.getHeader(\"X-Api-Key\");\n", Nothing),
    ("app.rb", "secret = Rails.application.credentials.secret_key_base\n", Nothing),
    ("main.go", "token := os.Getenv(\"GITHUB_TOKEN\")\n", Nothing),
    ("Startup.cs", "var password = Configuration[\"Db:Password\"];\n", Nothing),
    ("client.py", "self.api_key = api_key or os.getenv(\"OPENAI_API_KEY\")\n", Nothing),
    // minified JS
    ("vendor.min.js", "function(e,t,n){return e.apiKey=t.apiKey,e.secret=n.secret||t.secretKey,e}\n", Nothing),
    ("app.bundle.js", "var o={password:i.password,token:a.token,auth:r.auth};\n", Nothing),
    // ML `token_*` expressions and tokenizer vocabulary
    ("model.py", "token_logits = self.lm_head(hidden_states)\n", Nothing),
    ("train.py", "tokenizer.add_special_tokens({\"pad_token\": \"[PAD]\"})\n", Nothing),
    ("data.py", "token_ids = tokenizer.encode(text, add_special_tokens=False)\n", Nothing),
    ("model.py", "self.token_embedding = nn.Embedding(vocab_size, d_model)\n", Nothing),
    ("config.json", "{\"bos_token_id\": 1, \"eos_token_id\": 2, \"pad_token_id\": 0}\n", Nothing),
    ("attn.py", "key_states = self.k_proj(hidden_states)\n", Nothing),
    ("attn.py", "key = key.view(bsz, q_len, self.num_heads, self.head_dim)\n", Nothing),
    ("tokenizer_config.json", "{\"eos_token\": \"</s>\", \"unk_token\": \"<unk>\", \"model_max_length\": 4096}\n", Nothing),
    ("rope.py", "seq_len = key_layer.shape[-2]\n", Nothing),
    ("sample.py", "next_token = torch.argmax(logits[:, -1, :], dim=-1)\n", Nothing),
    // an access key id in a presigned URL
    ("download.py", "url = \"https://data-b2.s3.us-west-2.amazonaws.com/x.parquet?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=«AKID»%2F20250311%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Date=20250311T101500Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=«H64»\"\n", Nothing),
    ("README.md", "wget 'https://w-b2.s3.amazonaws.com/w.bin?X-Amz-Credential=«AKID»%2F20240506%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Signature=«H64»'\n", Nothing),
    // templates and placeholders
    ("group_vars.yml", "password: \"{{ vault_db_password }}\"\n", Nothing),
    ("settings.py", "DATABASE_URL = f\"postgres://{DB_USER}:{DB_PASS}@{DB_HOST}:5432/{DB_NAME}\"\n", Nothing),
    ("config.rb", "api_key: ENV.fetch(\"API_KEY\")\n", Nothing),
    ("database.yml", "  password: <%= ENV['DB_PASSWORD'] %>\n", Nothing),
    ("log.py", "msg = \"token=%s\" % token\n", Nothing),
    ("site.yml", "  mysql_root_password: \"{{ lookup('env', 'MYSQL_ROOT_PASSWORD') }}\"\n", Nothing),
    ("deploy.yaml", "env:\n  - name: API_KEY\n    value: $(API_KEY)\n", Nothing),
    ("app.conf.tmpl", "password=__DB_PASSWORD__\n", Nothing),
    ("config.tmpl", "token = \"%TOKEN%\"\n", Nothing),
    (".env.example", "OPENAI_API_KEY=sk-...\n", Nothing),
    ("sample.env", "STRIPE_SECRET_KEY=your_stripe_secret_key_here\n", Nothing),
    ("README.md", "export API_TOKEN=<token>\n", Nothing),
    // compound words and defaults as passwords
    ("docker-compose.yml", "    environment:\n      - POSTGRES_PASSWORD=postgres\n", Nothing),
    (".env.example", "ADMIN_PASSWORD=changeme\n", Nothing),
    ("config.yml", "password: supersecret\n", Nothing),
    ("seed.sql", "CREATE USER test IDENTIFIED BY 'password123';\n", Nothing),
    ("dev.sh", "mysql -uroot -proot\n", Nothing),
    ("settings.py", "SECRET_KEY = \"django-insecure-change-me-in-production\"\n", Nothing),
    ("app.js", "app.use(session({ secret: 'keyboard cat' }));\n", Nothing),
    ("values.yaml", "  adminPassword: admin123\n", Nothing),
    ("README.md", "docker run -e MYSQL_ROOT_PASSWORD=my-secret-pw -d mysql\n", Nothing),
    ("conf.ini", "[rabbit]\npassword = guest\n", Nothing),
    // credential URLs on local or documentation hosts
    ("README.md", "export DATABASE_URL=postgres://postgres:«P2»@localhost:5432/dev\n", Nothing), // keysweep:allow (a marker)
    ("test_config.py", "BROKER = \"amqp://worker:«P2»@127.0.0.1:5672//\"\n", Nothing), // keysweep:allow (a marker)
    ("docs.rst", "mongodb://user:«P2»@db.example.com:27017/app\n", Nothing), // keysweep:allow (a marker)
    ("example.yaml", "url: smtp://mailer:«P2»@mail.example.org:587\n", Nothing),
    ("conf.yaml", "cache: redis://:«P2»@redis.app.test:6379\n", Nothing), // keysweep:allow (a marker)
    // DUMMY_/FAKE_/TEST_/MOCK_/EXAMPLE_ names
    ("test_client.py", "TEST_API_KEY = \"«T»\"\n", Nothing),
    ("fixtures.js", "const FAKE_SECRET = '«B»';\n", Nothing),
    ("mocks.go", "var dummyToken = \"«T»\"\n", Nothing),
    ("conftest.py", "os.environ[\"MOCK_PASSWORD\"] = \"«P»\"\n", Nothing),
    ("stub.env", "EXAMPLE_TOKEN=«T»\n", Nothing),
    // password hashes
    ("users.yml", "admin:\n  password: \"$2y$10$«BCRYPT»\"\n", Nothing),
    ("auth.py", "HASHED_PASSWORD = \"pbkdf2:sha256:600000$«S»$«H64»\"\n", Nothing),
    ("users.yaml", "password: \"$argon2id$v=19$m=65536,t=3,p=4$«S»$«B»\"\n", Nothing),
    ("users.yml", "password: \"$apr1$«S»$«B»\"\n", Nothing),
    // IAM actions
    ("policy.json", "{\"Action\": [\"secretsmanager:GetSecretValue\", \"kms:Decrypt\"]}\n", Nothing),
    ("iam.tf", "    actions = [\"iam:CreateAccessKey\", \"iam:UpdateLoginProfile\"]\n", Nothing),
    ("policy.yaml", "- Effect: Allow\n  Action: sts:GetSessionToken\n", Nothing),
    // names, numbers, prose and markup around credential words
    ("README.md", "Set `API_KEY` to the key shown on your dashboard.\n", Nothing),
    ("cli.py", "parser.add_argument(\"--api-key\", help=\"API key for the service\")\n", Nothing),
    ("config.py", "PASSWORD_MIN_LENGTH = 12\n", Nothing),
    ("auth.py", "TOKEN_EXPIRY_SECONDS = 3600\n", Nothing),
    ("settings.yaml", "secret_name: prod-db-credentials\n", Nothing),
    ("event.json", "{\"request_id\": \"«U»\", \"session_key\": null}\n", Nothing),
    ("urls.py", "path(\"password/reset/<uidb64>/<token>/\", views.reset)\n", Nothing),
    ("deploy.yaml", "        secretKeyRef:\n          name: db-secret\n          key: password\n", Nothing),
    ("en.json", "{\"password\": \"Password\", \"forgot_password\": \"Forgot your password?\"}\n", Nothing),
    ("errors.go", "var ErrInvalidToken = errors.New(\"invalid token\")\n", Nothing),
    ("login.html", "<input type=\"password\" name=\"password\" placeholder=\"Password\">\n", Nothing),
    ("routes.rb", "post 'password/reset', to: 'passwords#reset'\n", Nothing),
    ("yarn.lock", "  integrity sha512-«B»\n", Nothing),
    ("CHANGELOG.md", "- Fixed token refresh when the access_token had expired\n", Nothing),
    ("ssh_config", "Host bastion\n  IdentityFile ~/.ssh/id_ed25519\n", Nothing),
    ("app.yaml", "auth: oauth2\n", Nothing),
    ("values.yaml", "existingSecret: redis-auth\n", Nothing),
    ("cache.py", "key = hashlib.sha256(prompt.encode()).hexdigest()\n", Nothing),
    ("auth.py", "SECRET_KEY_FALLBACKS = []\n", Nothing),
];

/// Written once, before keysweep was run on it, as close as we could make it to what a hand-labeller meets in
/// public repositories rather than to keysweep's rule shapes: PHP arrays and `define()`, Ruby hashes, JVM
/// setters and property maps, .NET `appsettings.json`, package-manager credential files (`.npmrc`, `.pypirc`,
/// `pip.conf`, Maven `settings.xml`, `.git-credentials`), Terraform, Helm, Kubernetes `stringData`, Ansible,
/// notebook JSON, SQL dumps, log lines, comments, weak human passwords in a strong password context, values
/// with `%$#@/+=`, environment defaults and header maps; and the real-world noise around credential words
/// (i18n strings, form fields, CSS, enum names, digests, lockfile integrity, id UUIDs, public keys, `getpass()`,
/// `None`, request lookups, obviously fake fixtures, redactions, encrypted values).
pub const HOLDOUT3: &[Case] = &[
    // --- PHP ---
    ("config/database.php", "        'password' => '«P»',\n", Find(PW)),
    ("config/services.php", "    'mailgun' => [\n        'domain' => 'mg.corp-d4.io',\n        'secret' => '«T»',\n    ],\n", Find(SEC)),
    ("wp-config.php", "define( 'DB_PASSWORD', '«P»' );\n", Find("generic.named-argument")),
    ("wp-config.php", "define('AUTH_KEY',         '«WPSALT»');\n", Find("generic.named-argument")),
    ("settings.php", "$databases['default']['default'] = array('username' => 'drupal', 'password' => '«P»', 'host' => 'db1');\n", Find(PW)),
    ("config.php", "$config['smtp_pass'] = \"«P»\";\n", Find(PW)),
    ("Mailer.php", "$mail->Password   = '«P»';\n", Find(PW)),
    ("api.php", "$apiKey = \"«T»\";\n", Find(SEC)),
    // --- Ruby ---
    ("config/initializers/stripe.rb", "Rails.configuration.stripe = { :publishable_key => ENV['PUBLISHABLE_KEY'], :secret_key => \"«T»\" }\n", Find(SEC)),
    ("config/environments/production.rb", "  config.action_mailer.smtp_settings = { user_name: 'apikey', password: '«P»', address: 'smtp.corp-d4.io' }\n", Find(PW)),
    ("deploy.rb", "set :password, \"«P»\"\n", Find("generic.named-argument")),
    ("Gemfile", "source \"https://ci:«P2»@gems.corp-d4.net/\"\n", Find(URL)),
    ("client.rb", "  c.access_token = \"«T»\"\n", Find(SEC)),
    // --- Java / Kotlin / Scala ---
    ("DataSourceConfig.java", "        dataSource.setPassword(\"«P»\");\n", Find(FN)),
    ("MailConfig.java", "        props.put(\"mail.smtp.password\", \"«P»\");\n", Find("generic.named-argument")),
    ("Client.java", "        conn.setRequestProperty(\"Authorization\", \"Bearer «T»\");\n", Find(BEARER)),
    ("ApiClient.java", "    private static final String API_KEY = \"«T»\";\n", Find(SEC)),
    ("KafkaConfig.java", "props.put(\"sasl.jaas.config\", \"org.apache.kafka.common.security.plain.PlainLoginModule required username=\\\"svc\\\" password=\\\"«P»\\\";\");\n", Find(PW)),
    ("build.gradle.kts", "        credentials {\n            username = \"deploy\"\n            password = \"«P»\"\n        }\n", Find(PW)),
    ("Config.kt", "    private val clientSecret = \"«T»\"\n", Find(SEC)),
    ("Jdbc.java", "Connection c = DriverManager.getConnection(\"jdbc:postgresql://db1.corp-d4.net/app\", \"app\", \"«P»\");\n", Find("generic.connect-arguments")),
    // --- C# / .NET ---
    ("appsettings.json", "{\n  \"Smtp\": {\n    \"Host\": \"smtp.corp-d4.io\",\n    \"Password\": \"«P»\"\n  }\n}\n", Find(PW)),
    ("appsettings.Production.json", "  \"Jwt\": {\n    \"Key\": \"«B»\",\n    \"Issuer\": \"corp-d4\"\n  },\n", Find(SEC)),
    ("appsettings.json", "  \"SendGrid\": { \"ApiKey\": \"«T»\" },\n", Find(SEC)),
    ("Program.cs", "var client = new ApiClient(\"https://api.corp-d4.io\", apiKey: \"«T»\");\n", Find(SEC)),
    ("App.config", "<add key=\"StorageAccountKey\" value=\"«B»\" />\n", Find(NAMED)),
    // --- package managers and tool credential files ---
    (".npmrc", "//registry.npmjs.org/:_authToken=«U»\n", Find("npm.legacy-token")),
    (".npmrc", "//npm.corp-d4.net/repository/npm/:_auth=«B»\nalways-auth=true\n", Find(SEC)),
    (".pypirc", "[distutils]\nindex-servers = corp\n\n[corp]\nrepository = https://pypi.corp-d4.net/\nusername = deploy\npassword = «P»\n", Find(PW)),
    ("pip.conf", "[global]\nindex-url = https://deploy:«P2»@pypi.corp-d4.net/simple\n", Find(URL)),
    ("settings.xml", "<settings>\n  <servers>\n    <server>\n      <id>releases</id>\n      <username>deploy</username>\n      <password>«P»</password>\n    </server>\n  </servers>\n</settings>\n", Find(XML)),
    (".git-credentials", "https://ci-bot:«P2»@git.corp-d4.net\n", Find(URL)),
    (".yarnrc.yml", "npmRegistries:\n  \"https://npm.corp-d4.net\":\n    npmAuthToken: «T»\n", Find(SEC)),
    ("nuget.config", "      <add key=\"ClearTextPassword\" value=\"«P»\" />\n", Find(NAMED)),
    ("composer.json", "{\"http-basic\": {\"repo.corp-d4.net\": {\"username\": \"ci\", \"password\": \"«P»\"}}}\n", Find(PW)),
    ("config.json", "{\n\t\"auths\": {\n\t\t\"registry.corp-d4.net\": {\n\t\t\t\"auth\": \"«DAUTH»\"\n\t\t}\n\t}\n}\n", Find(PW)),
    // --- shell, CI, Docker ---
    ("deploy.sh", "echo \"$CI_TOKEN\" | docker login -u ci -p «P» registry.corp-d4.net\n", Find(CLI)),
    ("deploy.sh", "docker login -u deploy -p «P» registry.corp-d4.net\n", Find(CLI)),
    (".gitlab-ci.yml", "  script:\n    - export AWS_SECRET_ACCESS_KEY=«B40»\n", Find("aws.secret-access-key")),
    ("Dockerfile", "ENV ADMIN_PASSWORD=«P»\n", Find(PW)),
    ("Dockerfile", "ARG NPM_TOKEN=«T»\n", Find(SEC)),
    ("backup.sh", "PGPASSWORD='«P»' pg_dump -h db1.corp-d4.net -U backup app > app.sql\n", Find(PW)),
    ("run.sh", "sshpass -p '«P»' ssh deploy@10.0.4.12\n", Find("generic.config-directive")),
    ("Jenkinsfile", "        withEnv(['SONAR_TOKEN=«H40»']) {\n", Find(SEC)),
    // --- Terraform / HCL ---
    ("main.tf", "resource \"aws_db_instance\" \"db\" {\n  username = \"admin\"\n  password = \"«P»\"\n}\n", Find(PW)),
    ("variables.tf", "variable \"db_password\" {\n  type    = string\n  default = \"«P»\"\n}\n", Find("generic.terraform-variable")),
    ("provider.tf", "provider \"datadog\" {\n  api_key = \"«H»\"\n}\n", Find("datadog.api-key")),
    ("terraform.tfvars", "cloudflare_api_token = \"«T»\"\n", Find(SEC)),
    // --- Helm, Kubernetes, Ansible ---
    ("values.yaml", "postgresql:\n  auth:\n    postgresPassword: «P»\n    database: app\n", Find(PW)),
    ("values-prod.yaml", "redis:\n  password: \"«P»\"\n", Find(PW)),
    ("secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData:\n  DB_PASSWORD: «P»\n", Find(PW)),
    ("secret.yaml", "kind: Secret\nstringData:\n  api-key: «T»\n", Find(SEC)),
    ("group_vars/all.yml", "ansible_become_pass: «P»\n", Find(PW)),
    ("host_vars/db1.yml", "mysql_root_password: «P»\n", Find(PW)),
    ("inventory.ini", "[web]\nweb1 ansible_host=10.0.4.11 ansible_user=deploy ansible_ssh_pass=«P»\n", Find(PW)),
    ("vars/main.yml", "grafana_admin_password: \"«PSYM»\"\n", Find(PW)),
    // --- notebooks and JSON-escaped source ---
    ("train.ipynb", "{\"cells\": [{\"cell_type\": \"code\", \"execution_count\": 1, \"metadata\": {}, \"outputs\": [], \"source\": [\"import openai\\n\", \"openai.api_key = \\\"«T»\\\"\\n\"]}], \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}\n", Find(SEC)),
    ("eval.ipynb", "{\"cells\": [{\"cell_type\": \"code\", \"execution_count\": 3, \"metadata\": {}, \"outputs\": [], \"source\": [\"config = {\\n\", \"    \\\"api_key\\\": \\\"«T»\\\",\\n\", \"    \\\"model\\\": \\\"gpt-4o\\\",\\n\", \"}\\n\"]}], \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}\n", Find(SEC)),
    ("analysis.ipynb", "{\"cells\": [{\"cell_type\": \"code\", \"execution_count\": 2, \"metadata\": {}, \"outputs\": [], \"source\": [\"conn = psycopg2.connect(host=\\\"db1.corp-d4.net\\\", user=\\\"analyst\\\", password=\\\"«P»\\\")\\n\"]}], \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}\n", Find(PW)),
    // --- SQL dumps and migrations ---
    ("dump.sql", "INSERT INTO `wp_options` VALUES (1,'smtp_password','«P»','yes');\n", Find(PW)),
    ("seed.sql", "INSERT INTO api_clients (name, api_key) VALUES ('billing', '«T»');\n", Find(SEC)),
    ("migrate.sql", "CREATE USER grafana WITH ENCRYPTED PASSWORD '«P»';\n", Find(SQL)),
    ("setup.sql", "SET PASSWORD FOR 'app'@'%' = PASSWORD('«P»');\n", Find(FN)),
    // --- log lines ---
    ("app.log", "2024-03-11 10:15:02,118 DEBUG connect: host=db1.corp-d4.net user=app password=«P» timeout=30\n", Find(PW)),
    ("debug.log", "[2024-03-11T10:15:02Z] INFO  request headers={'X-Api-Key': '«T»', 'Accept': 'application/json'}\n", Find(SEC)),
    ("error.log", "ERROR  Login failed for url=https://svc:«P2»@api.corp-d4.net/v1/login\n", Find(URL)),
    // --- comments holding a credential ---
    ("settings.py", "# token: «T»\n", Find(SEC)),
    ("config.js", "  // apiKey: '«T»',\n", Find(SEC)),
    ("README.md", "The staging admin password is `«P»` (rotate after the demo).\n", Find("generic.prose-credential")),
    ("notes.txt", "db password: «P»\n", Find(PW)),
    // --- weak human passwords in a strong password context ---
    (".env", "DB_PASSWORD=«HUMAN»\n", Find(PW)),
    ("database.yml", "production:\n  adapter: postgresql\n  username: app\n  password: «HUMAN»\n", Find(PW)),
    ("config.php", "$db_pass = '«HUMAN»';\n", Find(PW)),
    ("docker-compose.yml", "      MYSQL_ROOT_PASSWORD: «HUMAN»\n", Find(PW)),
    ("settings.py", "EMAIL_HOST_PASSWORD = '«HUMAN»'\n", Find(PW)),
    // --- values with `%`, `$`, `#`, `@`, `/`, `+`, `=` ---
    (".env", "SMTP_PASSWORD=«PSYM»\n", Find(PW)),
    ("config.yaml", "password: '«PSYM»'\n", Find(PW)),
    ("settings.py", "DATABASES = {\"default\": {\"USER\": \"app\", \"PASSWORD\": \"«PSYM»\"}}\n", Find(PW)),
    ("aws.env", "AWS_SECRET_ACCESS_KEY=«B40»\n", Find("aws.secret-access-key")),
    ("conf.ini", "[mail]\nsmtp_password = «PSYM»\n", Find(PW)),
    // --- environment defaults and header maps ---
    ("config.py", "API_KEY = os.environ.get(\"API_KEY\", \"«T»\")\n", Find("generic.named-argument")),
    ("settings.py", "SECRET_KEY = os.getenv('DJANGO_SECRET_KEY', '«B»')\n", Find("generic.named-argument")),
    ("config.js", "const token = process.env.API_TOKEN || '«T»';\n", Find("generic.default-value")),
    ("client.py", "headers = {\"X-Api-Key\": \"«T»\", \"Content-Type\": \"application/json\"}\n", Find(SEC)),
    ("fetch.js", "fetch(url, { headers: { 'x-api-key': '«T»' } })\n", Find(SEC)),
    ("sdk.py", "client = OpenAI(api_key=\"«T»\")\n", Find(SEC)),
    ("bot.py", "bot = telebot.TeleBot(token=\"«T»\")\n", Find(SEC)),
    ("main.go", "\tclient := api.NewClient(api.Config{Token: \"«T»\"})\n", Find(SEC)),
    ("config.go", "const apiSecret = \"«T»\"\n", Find(SEC)),
    ("mail.py", "smtp.login(\"alerts@corp-d4.com\", \"«P»\")\n", Find(FN)),
    ("redis.conf", "requirepass «P»\n", Find("generic.config-directive")),
    ("pgpass", "db1.corp-d4.net:5432:app:app:«P»\n", Find(PW)),
    ("rclone.conf", "[s3]\ntype = s3\naccess_key_id = AKIAEXAMPLEID\nsecret_access_key = «B40»\n", Find("aws.secret-access-key")),
    ("wrangler.toml", "[vars]\nAPI_SECRET = \"«T»\"\n", Find(SEC)),

    // ===== negatives =====
    // i18n strings and UI text
    ("locales/en.json", "{\n  \"password\": \"Password\",\n  \"confirm_password\": \"Confirm password\"\n}\n", Nothing),
    ("locales/fr.json", "  \"password\": \"Mot de passe\",\n  \"api_key\": \"Clé API\",\n", Nothing),
    ("en.yml", "en:\n  login:\n    password: \"Enter your password\"\n    token_expired: \"Your session has expired\"\n", Nothing),
    ("messages.properties", "login.password=Password\nlogin.password.invalid=The password is incorrect\n", Nothing),
    ("strings.xml", "<string name=\"password_hint\">Your password</string>\n", Nothing),
    ("i18n.ts", "  apiKeyPlaceholder: 'Paste your API key here',\n", Nothing),
    // form fields, HTML and CSS
    ("login.html", "<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\n", Nothing),
    ("style.css", "input[type=\"password\"] { border: 1px solid #ccc; }\n", Nothing),
    ("forms.py", "    password = forms.CharField(widget=forms.PasswordInput)\n", Nothing),
    ("Login.jsx", "<TextField label=\"API Key\" name=\"apiKey\" type=\"password\" value={apiKey} />\n", Nothing),
    ("schema.graphql", "  password: String!\n", Nothing),
    ("models.py", "    api_key = models.CharField(max_length=64, unique=True)\n", Nothing),
    // enum and constant names
    ("constants.py", "GRANT_TYPE_PASSWORD = \"password\"\n", Nothing),
    ("AuthType.java", "    API_KEY(\"api_key\"),\n", Nothing),
    ("enums.ts", "export enum Auth { Password = 'password', ApiKey = 'api_key', Token = 'token' }\n", Nothing),
    ("keys.go", "const HeaderAPIKey = \"X-API-Key\"\n", Nothing),
    ("settings.py", "TOKEN_TYPE = \"Bearer\"\n", Nothing),
    ("config.py", "PASSWORD_HASHERS = [\"django.contrib.auth.hashers.Argon2PasswordHasher\"]\n", Nothing),
    ("errors.rb", "INVALID_TOKEN = 'invalid_token'.freeze\n", Nothing),
    // hashes and checksums
    ("docker-compose.yml", "    image: postgres@sha256:«H64»\n", Nothing),
    ("release.json", "{\"file\": \"app.tar.gz\", \"sha256\": \"«H64»\"}\n", Nothing),
    ("SHA256SUMS", "«H64»  keysweep-x86_64-linux.tar.gz\n", Nothing),
    ("go.sum", "github.com/pkg/errors v0.9.1 h1:«B»\n", Nothing),
    ("package-lock.json", "      \"integrity\": \"sha512-«B»«B»\",\n", Nothing),
    ("poetry.lock", "    {file = \"requests-2.31.0-py3-none-any.whl\", hash = \"sha256:«H64»\"},\n", Nothing),
    ("Cargo.lock", "checksum = \"«H64»\"\n", Nothing),
    ("git.log", "commit «H40»\n", Nothing),
    ("cache.json", "{\"etag\": \"«H»\", \"key\": \"«H»\"}\n", Nothing),
    ("config.py", "password_hash = \"«H64»\"\n", Nothing),
    // UUIDs that are ids
    ("azure.json", "{\"tenantId\": \"«U»\", \"subscriptionId\": \"«U»\"}\n", Nothing),
    ("app.json", "{\"clientId\": \"«U»\", \"redirectUri\": \"https://app.corp-d4.io/callback\"}\n", Nothing),
    ("events.log", "request_id=«U» token_type=bearer status=200\n", Nothing),
    ("project.csproj", "    <UserSecretsId>«U»</UserSecretsId>\n", Nothing),
    // public keys and certificates
    ("authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI«B» deploy@ci\n", Nothing),
    ("config.yaml", "public_key: \"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ«B»«B» ops@corp\"\n", Nothing),
    ("jwks.json", "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"«H»\", \"use\": \"sig\", \"e\": \"AQAB\"}]}\n", Nothing),
    ("firebase.js", "const vapidPublicKey = \"B«B»\";\n", Nothing),
    // values read at run time
    ("cli.py", "password = getpass.getpass(\"Password: \")\n", Nothing),
    ("auth.py", "secret = None\n", Nothing),
    ("views.py", "token = request.headers.get(\"Authorization\", \"\").removeprefix(\"Bearer \")\n", Nothing),
    ("settings.py", "API_KEY = env(\"API_KEY\")\n", Nothing),
    ("config.js", "const apiKey = process.env.OPENAI_API_KEY;\n", Nothing),
    ("app.go", "\tpassword := viper.GetString(\"database.password\")\n", Nothing),
    ("Program.cs", "var apiKey = builder.Configuration[\"OpenAI:ApiKey\"];\n", Nothing),
    ("main.rs", "let token = std::env::var(\"GITHUB_TOKEN\")?;\n", Nothing),
    ("deploy.yml", "        password: ${{ secrets.REGISTRY_PASSWORD }}\n", Nothing),
    ("settings.py", "AWS_SECRET_ACCESS_KEY = config(\"AWS_SECRET_ACCESS_KEY\", default=\"\")\n", Nothing),
    ("values.yaml", "  password: \"\"\n", Nothing),
    ("secrets.yml", "api_token: ~\n", Nothing),
    ("Config.java", "    @Value(\"${spring.datasource.password}\")\n    private String password;\n", Nothing),
    ("app.php", "'key' => env('APP_KEY'),\n", Nothing),
    // obviously fake fixtures and documentation placeholders
    ("tests/test_login.py", "    client.login(username=\"alice\", password=\"hunter2\")\n", Nothing),
    ("spec/auth_spec.rb", "  let(:password) { 'password123' }\n", Nothing),
    ("test_api.py", "API_KEY = \"test-api-key-1234\"\n", Nothing),
    ("README.md", "export OPENAI_API_KEY=\"your-api-key-here\"\n", Nothing),
    ("docs/setup.md", "   password: <YOUR_DB_PASSWORD>\n", Nothing),
    (".env.sample", "STRIPE_SECRET_KEY=sk_test_xxxxxxxxxxxxxxxxxxxxxxxx\n", Nothing),
    ("config.example.yml", "api_key: XXXXXXXXXXXXXXXXXXXXXXXX\n", Nothing),
    ("example.env", "JWT_SECRET=replace-with-a-long-random-string\n", Nothing),
    ("docker-compose.yml", "      POSTGRES_PASSWORD: example\n", Nothing),
    ("README.md", "curl -H \"Authorization: Bearer YOUR_TOKEN\" https://api.corp-d4.io/v1/me\n", Nothing),
    ("docs/api.md", "    \"api_key\": \"abcdef1234567890\",\n", Nothing),
    ("values.yaml", "  adminPassword: \"admin\"\n", Nothing),
    ("fixtures/users.json", "{\"username\": \"test\", \"password\": \"testpassword\"}\n", Nothing),
    // redacted and encrypted values
    ("app.log", "2024-03-11 10:15:02 INFO connecting with password=******** to db1\n", Nothing),
    ("debug.log", "headers: {'Authorization': 'Bearer [REDACTED]'}\n", Nothing),
    ("config.json", "{\"api_key\": \"<redacted>\"}\n", Nothing),
    ("vault.yml", "db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  «H64»\n", Nothing),
    ("secrets.enc.yaml", "password: ENC[AES256_GCM,data:«B»,iv:«B»,tag:«B»,type:str]\n", Nothing),
    // prose, docs and parameters about credentials
    ("api.py", "    :param api_key: the key issued on the dashboard\n", Nothing),
    ("README.md", "The token is read from `~/.config/corp/token` on start-up.\n", Nothing),
    ("CHANGELOG.md", "- The `--password` flag now reads from stdin when given `-`.\n", Nothing),
    ("auth.go", "// Token returns the bearer token for the current session.\n", Nothing),
    ("app.log", "INFO token refreshed for user 8812, expires_in=3599\n", Nothing),
    // configuration around credentials that is not one
    ("settings.py", "PASSWORD_RESET_TIMEOUT = 259200\n", Nothing),
    ("config.yaml", "password_min_length: 12\n", Nothing),
    ("deploy.yaml", "        - secretRef:\n            name: app-secrets\n", Nothing),
    ("ingress.yaml", "  tls:\n    - secretName: app-tls\n", Nothing),
    ("keybindings.json", "  { \"key\": \"ctrl+shift+p\", \"command\": \"workbench.action.showCommands\" },\n", Nothing),
    ("cache.py", "cache_key = f\"user:{user_id}:profile\"\n", Nothing),
    ("jwt.py", "token = jwt.encode(payload, settings.SECRET_KEY, algorithm=\"HS256\")\n", Nothing),
    ("auth.ts", "const token = await getAccessToken({ scopes: ['read'] });\n", Nothing),
    ("oauth.py", "TOKEN_URL = \"https://oauth2.googleapis.com/token\"\n", Nothing),
    ("sealed.yaml", "spec:\n  encryptedData:\n    password: Ag«B»«B»«B»\n", Nothing),
    ("config.yaml", "auth_method: password\n", Nothing),
    ("nginx.conf", "auth_basic_user_file /etc/nginx/.htpasswd;\n", Nothing),
    ("model.py", "        key_padding_mask = attention_mask.eq(0)\n", Nothing),
    ("tokenize.py", "    tokens = tokenizer.tokenize(text)[:max_length]\n", Nothing),
];

/// Written once, before keysweep was run on it, from the languages and files the first three sets cover thinly
/// or not at all: Go struct literals and calls, Rust, C/C++ and Arduino headers (`#define`, `char *`), Swift and
/// Objective-C (`@"…"`, `Info.plist`), Scala/HOCON, Groovy and Jenkinsfiles, PowerShell (`ConvertTo-SecureString
/// … -AsPlainText`), batch files, Makefiles (`?=`), Dockerfile `ENV`/`ARG`, nginx/Apache/HAProxy, Android
/// signing and resources, Postman/Insomnia exports, curl in Markdown, GitHub Actions `with:`, Kubernetes
/// Secret `data:` (base64), `.netrc`, `.pgpass`, Docker `config.json` auths, `wp_options` and `INSERT` rows,
/// LDAP bind configs (`bindpw`, `ldap_default_authtok`), Spring, Django, Rails, Laravel, notebooks, cloud-init,
/// WireGuard, IPsec, Wi-Fi configs, JPA/Spring XML `<property name=… value=…>`, call arguments (`auth=(…)`,
/// `NetworkCredential`, `DBI->connect`); and the negatives real repositories hold around each of them
/// (environment lookups in every language, `Read-Host -AsSecureString`, `Get-Credential`, `${{ secrets.X }}`,
/// Vault and secret references, i18n, placeholders, test doubles, hashes, ids, public keys, encrypted values).
/// A Docker `auth` and a Kubernetes `data:` value are labelled by the credential they encode (`DAUTH`, `B64P`,
/// `B64T`), not by their base64. Its first run's misses and false positives were read and their mechanisms
/// fixed (`generic_secrets_precision_recall`), so it is held out no longer: the test holds its final counts.
pub const HOLDOUT4: &[Case] = &[
    // --- Go ---
    ("config.go", "const apiKey = \"«T»\"\n", Find(SEC)),
    ("db.go", "\tcfg := mysql.Config{User: \"app\", Passwd: \"«P»\", Net: \"tcp\", Addr: \"db1.corp-e5.net:3306\"}\n", Find(PW)),
    ("client.go", "\treturn &Client{\n\t\tBaseURL: \"https://api.corp-e5.io\",\n\t\tAPIKey:  \"«T»\",\n\t}\n", Find(SEC)),
    ("notify.go", "\tauth := smtp.PlainAuth(\"\", \"alerts@corp-e5.com\", \"«P»\", \"smtp.corp-e5.com\")\n", Find(FN)),
    ("main.go", "var jwtSecret = []byte(\"«B»\")\n", Find(SEC)),
    ("cache.go", "\trdb := redis.NewClient(&redis.Options{Addr: \"cache1.corp-e5.net:6379\", Password: \"«P»\", DB: 0})\n", Find(PW)),
    ("env.go", "\tos.Setenv(\"OPENAI_API_KEY\", \"«T»\")\n", Find("generic.named-argument")),
    // --- Rust ---
    ("main.rs", "const OPENAI_API_KEY: &str = \"«T»\";\n", Find(SEC)),
    ("db.rs", "    let pool = PgPoolOptions::new().connect(\"postgres://app:«P2»@db1.corp-e5.net/app\").await?;\n", Find("database.postgres-url")), // keysweep:allow (a marker)
    ("client.rs", "    let res = Client::new().get(url).bearer_auth(\"«T»\").send()?;\n", Find(FN)),
    ("config.rs", "        password: \"«P»\".to_string(),\n", Find(PW)),
    // --- C, C++, Arduino ---
    ("config.h", "#define API_KEY \"«T»\"\n", Find(SEC)),
    ("wifi.ino", "const char* ssid = \"corp-iot\";\nconst char* password = \"«P»\";\n", Find(PW)),
    ("mqtt.ino", "#define MQTT_PASSWORD \"«P»\"\n", Find(PW)),
    ("auth.c", "static const char *token = \"«T»\";\n", Find(SEC)),
    ("upload.cpp", "    curl_easy_setopt(curl, CURLOPT_USERPWD, \"svc:«P»\");\n", Find(PW)),
    ("arduino_secrets.h", "#define SECRET_SSID \"corp-guest\"\n#define SECRET_PASS \"«P»\"\n", Find(PW)),
    // --- Swift, Objective-C, iOS ---
    ("Config.swift", "    static let apiKey = \"«T»\"\n", Find(SEC)),
    ("AppDelegate.m", "    [GMSServices provideAPIKey:@\"«T»\"];\n", Find(SEC)),
    ("Constants.m", "NSString *const kClientSecret = @\"«T»\";\n", Find(SEC)),
    ("Info.plist", "\t<key>APIKey</key>\n\t<string>«T»</string>\n", Find(NAMED)),
    // --- Scala, HOCON, Groovy, Jenkins, Gradle, Spring ---
    ("Config.scala", "  val dbPassword = \"«P»\"\n", Find(PW)),
    ("application.conf", "db.default.password = \"«P»\"\n", Find(PW)),
    ("build.sbt", "credentials += Credentials(\"Sonatype Nexus\", \"nexus.corp-e5.net\", \"deploy\", \"«P»\")\n", Find(FN)),
    ("Jenkinsfile", "    environment {\n        SONAR_TOKEN = '«H40»'\n    }\n", Find(SEC)),
    ("Jenkinsfile", "                sh \"curl -u admin:«P» -X POST https://jenkins.corp-e5.net/job/deploy/build\"\n", Find(CLI)),
    ("vars.groovy", "def apiToken = \"«T»\"\n", Find(SEC)),
    ("build.gradle", "    repositories { maven { url 'https://repo.corp-e5.net/'; credentials { username 'ci'; password '«P»' } } }\n", Find(PW)),
    ("application.yml", "spring:\n  datasource:\n    url: jdbc:postgresql://db1.corp-e5.net:5432/app\n    username: app\n    password: «P»\n", Find(PW)),
    ("application.yml", "jwt:\n  secret: «B»\n  expiration: 86400\n", Find(SEC)),
    ("application.properties", "spring.security.oauth2.client.registration.github.client-secret=«H40»\n", Find(SEC)),
    // --- PowerShell ---
    ("deploy.ps1", "$password = ConvertTo-SecureString \"«P»\" -AsPlainText -Force\n", Find(PW)),
    ("setup.ps1", "$apiKey = \"«T»\"\n", Find(SEC)),
    ("connect.ps1", "$cred = New-Object System.Management.Automation.PSCredential (\"CORP\\svc\", (ConvertTo-SecureString '«P»' -AsPlainText -Force))\n", Find(PW)),
    ("build.ps1", "$env:NUGET_API_KEY = \"«T»\"\n", Find(SEC)),
    ("install.ps1", "Invoke-RestMethod -Uri $url -Headers @{ \"X-Api-Key\" = \"«T»\" }\n", Find(SEC)),
    // --- batch files ---
    ("deploy.bat", "set DB_PASSWORD=«P»\n", Find(PW)),
    ("build.cmd", "set \"API_TOKEN=«T»\"\n", Find(SEC)),
    ("map.bat", "net use Z: \\\\fs1.corp-e5.net\\share «P» /user:CORP\\svc-backup\n", Find(CLI)),
    // --- Makefiles ---
    ("Makefile", "API_TOKEN ?= «T»\n", Find(SEC)),
    ("Makefile", "REGISTRY_PASSWORD := «P»\n", Find(PW)),
    ("Makefile", "deploy:\n\tcurl -H \"Authorization: Token «H40»\" https://api.corp-e5.io/deploy\n", Find(SEC)),
    // --- Dockerfiles ---
    ("Dockerfile", "FROM python:3.12-slim\nENV DB_PASSWORD «P»\n", Find(PW)),
    ("Dockerfile", "ARG GITHUB_TOKEN=«T»\n", Find(SEC)),
    ("Dockerfile", "RUN echo \"//npm.corp-e5.net/:_authToken=«T»\" > ~/.npmrc\n", Find(SEC)),
    ("Dockerfile", "RUN pip install --extra-index-url https://ci:«P2»@pypi.corp-e5.net/simple -r requirements.txt\n", Find(URL)),
    // --- nginx, HAProxy, Apache ---
    ("nginx.conf", "    location /api/ {\n        proxy_set_header X-Api-Key \"«T»\";\n    }\n", Find(SEC)),
    ("haproxy.cfg", "userlist admins\n    user admin insecure-password «P»\n", Find(PW)),
    ("haproxy.cfg", "listen stats\n    bind :8404\n    stats auth admin:«P»\n", Find(PW)),
    ("httpd.conf", "    ProxyPass / http://app1:8080/\n    RequestHeader set Authorization \"Bearer «T»\"\n", Find(BEARER)),
    // --- Android ---
    ("gradle.properties", "MAPS_API_KEY=«T»\n", Find(SEC)),
    ("keystore.properties", "storePassword=«P»\nkeyAlias=upload\n", Find(PW)),
    ("app/build.gradle", "        release {\n            storeFile file('release.jks')\n            storePassword '«P»'\n", Find(PW)),
    ("res/values/secrets.xml", "<resources>\n    <string name=\"facebook_client_token\">«H»</string>\n</resources>\n", Find(NAMED)),
    // --- Postman, Insomnia ---
    ("api.postman_collection.json", "\"auth\": {\"type\": \"bearer\", \"bearer\": [{\"key\": \"token\", \"value\": \"«T»\", \"type\": \"string\"}]}\n", Find(NAMED)),
    ("prod.postman_environment.json", "{\"key\": \"api_key\", \"value\": \"«T»\", \"enabled\": true}\n", Find(NAMED)),
    ("insomnia.json", "\"authentication\": {\"type\": \"basic\", \"username\": \"admin\", \"password\": \"«P»\"}\n", Find(PW)),
    ("collection.json", "\"header\": [{\"key\": \"X-API-Key\", \"value\": \"«T»\"}]\n", Find(NAMED)),
    // --- curl and setup snippets in Markdown ---
    ("README.md", "```bash\ncurl -H \"X-API-Key: «T»\" https://api.corp-e5.io/v1/models\n```\n", Find(SEC)),
    ("docs/quickstart.md", "    curl https://api.corp-e5.io/v1/chat -H 'Authorization: Bearer «T»' -d @req.json\n", Find(BEARER)),
    ("README.md", "```\ncurl --user deploy:«P» https://nexus.corp-e5.net/repository/raw/\n```\n", Find(CLI)),
    ("SETUP.md", "3. Log in with `docker login registry.corp-e5.net -u ci -p «P»`\n", Find(CLI)),
    ("README.md", "export ANTHROPIC_API_KEY=«T»\n", Find(SEC)),
    ("README.md", "| Variable | Value |\n|---|---|\n| `ADMIN_PASSWORD` | `«P»` |\n", Find(PW)),
    // --- CI ---
    (".github/workflows/deploy.yml", "      - uses: docker/login-action@v3\n        with:\n          username: ci\n          password: «P»\n", Find(PW)),
    (".github/workflows/ci.yml", "        env:\n          OPENAI_API_KEY: «T»\n", Find(SEC)),
    (".circleci/config.yml", "      - run: echo \"«T»\" | docker login -u ci --password-stdin registry.corp-e5.net\n", Find(CLI)),
    (".gitlab-ci.yml", "variables:\n  SONAR_TOKEN: «H40»\n", Find(SEC)),
    ("bitbucket-pipelines.yml", "          - export SNYK_TOKEN=«U»\n", Find(SEC)),
    // --- Kubernetes Secret `data:` (base64) ---
    ("secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  password: «B64P»\n", Find(PW)),
    ("secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\ndata:\n  API_KEY: «B64T»\n", Find(SEC)),
    // --- .netrc, .pgpass, Docker config.json ---
    (".netrc", "machine api.corp-e5.io\n  login deploy\n  password «P»\n", Find("generic.netrc-password")),
    (".pgpass", "db1.corp-e5.net:5432:app:app:«P»\n", Find(PW)),
    (".pgpass", "*:*:*:replicator:«P»\n", Find(PW)),
    ("config.json", "{\n  \"auths\": {\n    \"registry.corp-e5.net\": {\n      \"auth\": \"«DAUTH»\"\n    }\n  }\n}\n", Find(PW)),
    (".docker/config.json", "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"«DAUTH»\"}}}\n", Find(PW)),
    // --- SQL rows ---
    ("dump.sql", "INSERT INTO `wp_options` (`option_id`, `option_name`, `option_value`, `autoload`) VALUES (412, 'mailserver_pass', '«P»', 'yes');\n", Find(PW)),
    ("seed.sql", "INSERT INTO integrations (name, api_key, enabled) VALUES ('mailer', '«T»', true);\n", Find(SEC)),
    ("init.sql", "INSERT INTO service_accounts (username, password) VALUES ('etl', '«P»');\n", Find(PW)),
    ("wp.sql", "(17,'smtp_pass','«P»','yes'),\n", Find(PW)),
    // --- LDAP ---
    ("nslcd.conf", "binddn cn=nslcd,ou=services,dc=corp-e5,dc=net\nbindpw «P»\n", Find(PW)),
    ("sssd.conf", "[domain/corp]\nldap_default_bind_dn = cn=sssd,dc=corp-e5,dc=net\nldap_default_authtok = «P»\n", Find(SEC)),
    ("ldap.yml", "ldap:\n  bind_dn: cn=admin,dc=corp-e5,dc=net\n  bind_password: «P»\n", Find(PW)),
    ("gitlab.rb", "gitlab_rails['ldap_servers'] = { 'main' => { 'bind_dn' => 'cn=gitlab,dc=corp-e5,dc=net', 'password' => '«P»' } }\n", Find(PW)),
    // --- Django, Rails, Laravel ---
    ("settings.py", "SOCIAL_AUTH_GITHUB_SECRET = '«H40»'\n", Find(SEC)),
    ("config/secrets.yml", "production:\n  secret_key_base: «H128»\n", Find(SEC)),
    ("config/database.yml", "production:\n  <<: *default\n  password: «P»\n", Find(PW)),
    (".env", "APP_NAME=Shop\nAPP_KEY=«LARAVEL»\n", Find(SEC)),
    ("config/mail.php", "    'password' => env('MAIL_PASSWORD', '«P»'),\n", Find("generic.named-argument")),
    // --- notebooks ---
    ("explore.ipynb", "{\"cells\": [{\"cell_type\": \"code\", \"execution_count\": 4, \"metadata\": {}, \"outputs\": [{\"data\": {\"text/plain\": [\"'«T»'\"]}, \"execution_count\": 4, \"metadata\": {}, \"output_type\": \"execute_result\"}], \"source\": [\"os.environ[\\\"HF_TOKEN\\\"]\"]}], \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}\n", Find(SEC)),
    ("setup.ipynb", "{\"cells\": [{\"cell_type\": \"code\", \"execution_count\": 1, \"metadata\": {}, \"outputs\": [], \"source\": [\"!huggingface-cli login --token «T»\"]}], \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}\n", Find(CLI)),
    ("colab.ipynb", "{\"cells\": [{\"cell_type\": \"code\", \"execution_count\": 2, \"metadata\": {}, \"outputs\": [], \"source\": [\"os.environ['WANDB_API_KEY'] = '«H40»'\"]}], \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}\n", Find(SEC)),
    // --- service and host configs ---
    ("netlify.toml", "[build.environment]\n  CONTENTFUL_ACCESS_TOKEN = \"«T»\"\n", Find(SEC)),
    ("supervisord.conf", "[inet_http_server]\nport = 127.0.0.1:9001\nusername = admin\npassword = «P»\n", Find(PW)),
    ("rabbitmq.conf", "default_user = admin\ndefault_pass = «P»\n", Find(PW)),
    ("kibana.yml", "elasticsearch.username: kibana_system\nelasticsearch.password: «P»\n", Find(PW)),
    ("grafana.ini", "[security]\nadmin_user = admin\nadmin_password = «P»\n", Find(PW)),
    ("sentry.properties", "defaults.org=corp\nauth.token=«H64»\n", Find(SEC)),
    ("credentials.tfrc.json", "{\"credentials\": {\"app.terraform.io\": {\"token\": \"«T»\"}}}\n", Find(SEC)),
    ("provider.tf", "provider \"postgresql\" {\n  host     = \"db1.corp-e5.net\"\n  username = \"admin\"\n  password = \"«P»\"\n}\n", Find(PW)),
    ("user-data", "#cloud-config\nchpasswd:\n  list: |\n    ubuntu:«P»\n  expire: false\n", Find(PW)),
    ("user-data.yaml", "#cloud-config\nusers:\n  - name: ops\n    plain_text_passwd: «P»\n", Find(PW)),
    ("wg0.conf", "[Interface]\nPrivateKey = «B»\nAddress = 10.8.0.1/24\n", Find(SEC)),
    ("ipsec.secrets", ": PSK \"«P»\"\n", Find(PW)),
    ("hostapd.conf", "ssid=corp-iot\nwpa_passphrase=«P»\n", Find(PW)),
    ("wpa_supplicant.conf", "network={\n    ssid=\"corp\"\n    psk=\"«P»\"\n}\n", Find(PW)),
    ("docker-compose.yml", "x-db-env: &db-env\n  POSTGRES_PASSWORD: «P»\n", Find(PW)),
    ("deploy.sh", "helm install app ./chart --set-string auth.apiKey=«T»\n", Find(SEC)),
    ("inventory.yml", "      ansible_password: «P»\n", Find(PW)),
    ("Vagrantfile", "  config.ssh.password = \"«P»\"\n", Find(PW)),
    ("attributes/default.rb", "default['app']['db_password'] = '«P»'\n", Find(PW)),
    ("app.service", "[Service]\nEnvironment=\"API_TOKEN=«T»\"\n", Find(SEC)),
    ("crontab", "0 3 * * * PGPASSWORD=«P» pg_dump -h db1 app | gzip > /backup/app.sql.gz\n", Find(PW)),
    ("gitconfig", "[url \"https://ci:«T»@git.corp-e5.net/\"]\n\tinsteadOf = https://git.corp-e5.net/\n", Find(URL)),
    ("persistence.xml", "<property name=\"javax.persistence.jdbc.password\" value=\"«P»\"/>\n", Find(PW)),
    ("applicationContext.xml", "    <property name=\"password\" value=\"«P»\"/>\n", Find(PW)),
    // --- call arguments in more languages ---
    ("sync.py", "r = requests.get(url, auth=(\"admin\", \"«P»\"))\n", Find(PW)),
    ("fetch.py", "ftp = FTP('ftp.corp-e5.net', 'deploy', '«P»')\n", Find(FN)),
    ("Program.cs", "var credential = new NetworkCredential(\"svc\", \"«P»\");\n", Find(FN)),
    ("Startup.cs", "    options.Password = \"«P»\";\n", Find(PW)),
    ("db.pl", "my $dbh = DBI->connect(\"DBI:mysql:database=shop;host=db1\", \"app\", \"«P»\");\n", Find(FN)),
    ("ApiModule.kt", "    .addHeader(\"Authorization\", \"Token «H40»\")\n", Find(SEC)),
    ("server.js", "app.use(session({ secret: '«T»', resave: false }))\n", Find(SEC)),
    ("mailer.js", "  auth: { user: 'noreply@corp-e5.com', pass: '«P»' }\n", Find(PW)),
    ("config.inc.php", "$cfg['Servers'][$i]['password'] = '«P»';\n", Find(PW)),
    ("env.ts", "export const environment = { production: true, apiSecret: '«T»' };\n", Find(SEC)),
    ("env.dart", "  static const String stripeSecret = '«T»';\n", Find(SEC)),
    (".Renviron", "GITHUB_PAT=«T»\n", Find(SEC)),
    ("db.js", "const client = new MongoClient('mongodb+srv://app:«P2»@cluster0.x1y2z.mongodb.net/prod');\n", Find("database.mongodb-url")), // keysweep:allow (a marker)

    // ===== negatives =====
    // Go, Rust, C
    ("config.go", "\tapiKey := os.Getenv(\"API_KEY\")\n", Nothing),
    ("flags.go", "\tpassword := flag.String(\"password\", \"\", \"database password\")\n", Nothing),
    ("types.go", "type Credentials struct {\n\tUsername string `json:\"username\"`\n\tPassword string `json:\"password\"`\n}\n", Nothing),
    ("bcrypt.go", "var ErrMismatchedHashAndPassword = errors.New(\"crypto/bcrypt: hashedPassword is not the hash of the given password\")\n", Nothing),
    ("client_test.go", "\tc := New(Config{APIKey: \"test-api-key\"})\n", Nothing),
    ("main.rs", "    let api_key = std::env::var(\"OPENAI_API_KEY\").expect(\"OPENAI_API_KEY not set\");\n", Nothing),
    ("config.rs", "    pub password: Option<String>,\n", Nothing),
    ("auth.rs", "    let token = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok());\n", Nothing),
    ("config.h", "#define API_KEY_LEN 32\n", Nothing),
    ("main.c", "    const char *password = getenv(\"DB_PASSWORD\");\n", Nothing),
    ("auth.c", "    if (strcmp(password, stored_password) != 0) return -1;\n", Nothing),
    ("arduino_secrets.h", "#define SECRET_SSID \"\"\n#define SECRET_PASS \"\"\n", Nothing),
    ("wifi.ino", "const char* password = \"YOUR_WIFI_PASSWORD\";\n", Nothing),
    ("crypto.h", "#define SECRET_KEY_BYTES crypto_secretbox_KEYBYTES\n", Nothing),
    // Swift, Objective-C, iOS
    ("Config.swift", "    let apiKey = ProcessInfo.processInfo.environment[\"API_KEY\"] ?? \"\"\n", Nothing),
    ("Keys.swift", "    static let apiKey = Bundle.main.object(forInfoDictionaryKey: \"APIKey\") as? String\n", Nothing),
    ("Info.plist", "\t<key>NSFaceIDUsageDescription</key>\n\t<string>Unlock your saved passwords</string>\n", Nothing),
    ("Info.plist", "\t<key>APIKey</key>\n\t<string>$(API_KEY)</string>\n", Nothing),
    ("Localizable.strings", "\"password_placeholder\" = \"Enter your password\";\n", Nothing),
    ("LoginViewController.m", "    self.passwordField.secureTextEntry = YES;\n", Nothing),
    // JVM, Jenkins, Gradle, Spring
    ("Config.java", "    private final String apiKey = System.getenv(\"API_KEY\");\n", Nothing),
    ("application.yml", "spring:\n  datasource:\n    password: ${DB_PASSWORD}\n", Nothing),
    ("application.yml", "jwt:\n  secret: ${JWT_SECRET:}\n", Nothing),
    ("Jenkinsfile", "        withCredentials([usernamePassword(credentialsId: 'nexus-creds', usernameVariable: 'USER', passwordVariable: 'PASS')]) {\n", Nothing),
    ("Jenkinsfile", "    environment {\n        SONAR_TOKEN = credentials('sonar-token')\n    }\n", Nothing),
    ("build.gradle", "            password = project.findProperty('ossrhPassword') ?: System.getenv('OSSRH_PASSWORD')\n", Nothing),
    ("application.conf", "db.default.password = ${?DB_PASSWORD}\n", Nothing),
    ("LoginRequest.kt", "data class LoginRequest(val username: String, val password: String)\n", Nothing),
    ("Messages.scala", "  val passwordTooShort = \"Password must be at least 12 characters\"\n", Nothing),
    // PowerShell, batch, Makefiles, Dockerfiles
    ("deploy.ps1", "$password = Read-Host -AsSecureString \"Password\"\n", Nothing),
    ("connect.ps1", "$cred = Get-Credential -UserName \"CORP\\svc\" -Message \"Service account\"\n", Nothing),
    ("setup.ps1", "$apiKey = $env:API_KEY\n", Nothing),
    ("vault.ps1", "$secret = (Get-AzKeyVaultSecret -VaultName kv-prod -Name DbPassword).SecretValueText\n", Nothing),
    ("install.ps1", "$securePassword = ConvertTo-SecureString $plainPassword -AsPlainText -Force\n", Nothing),
    ("build.bat", "set API_TOKEN=%API_TOKEN%\n", Nothing),
    ("deploy.cmd", "if \"%DB_PASSWORD%\"==\"\" echo DB_PASSWORD is not set & exit /b 1\n", Nothing),
    ("Makefile", "API_TOKEN ?= $(shell cat .token)\n", Nothing),
    ("Makefile", "login:\n\tdocker login -u $(REGISTRY_USER) -p $(REGISTRY_PASSWORD) $(REGISTRY)\n", Nothing),
    ("Dockerfile", "ARG NPM_TOKEN\nRUN echo \"//registry.npmjs.org/:_authToken=${NPM_TOKEN}\" > .npmrc\n", Nothing),
    ("Dockerfile", "ENV POSTGRES_PASSWORD_FILE=/run/secrets/db_password\n", Nothing),
    ("Dockerfile", "RUN --mount=type=secret,id=api_key API_KEY=$(cat /run/secrets/api_key) ./fetch.sh\n", Nothing),
    // nginx, Apache, HAProxy
    ("nginx.conf", "    proxy_set_header Authorization $http_authorization;\n", Nothing),
    (".htpasswd", "admin:$apr1$«S»$«B»\n", Nothing),
    ("haproxy.cfg", "userlist admins\n    user admin password $6$«S»$«B»\n", Nothing),
    ("httpd.conf", "    AuthUserFile /etc/httpd/.htpasswd\n    Require valid-user\n", Nothing),
    // Android
    ("strings.xml", "<string name=\"prompt_password\">Password</string>\n", Nothing),
    ("app/build.gradle", "            storePassword System.getenv(\"KEYSTORE_PASSWORD\")\n", Nothing),
    ("AndroidManifest.xml", "<meta-data android:name=\"com.google.android.geo.API_KEY\" android:value=\"${MAPS_API_KEY}\" />\n", Nothing),
    // Postman, OpenAPI
    ("collection.json", "{\"key\": \"token\", \"value\": \"{{access_token}}\", \"type\": \"string\"}\n", Nothing),
    ("environment.json", "{\"key\": \"api_key\", \"value\": \"\", \"enabled\": true}\n", Nothing),
    ("collection.json", "\"auth\": {\"type\": \"apikey\", \"apikey\": [{\"key\": \"key\", \"value\": \"X-API-Key\"}]}\n", Nothing),
    ("openapi.yaml", "components:\n  securitySchemes:\n    ApiKeyAuth:\n      type: apiKey\n      in: header\n      name: X-API-Key\n", Nothing),
    ("swagger.json", "\"securityDefinitions\": {\"api_key\": {\"type\": \"apiKey\", \"name\": \"api_key\", \"in\": \"header\"}}\n", Nothing),
    // README snippets with placeholders
    ("README.md", "curl -H \"Authorization: Bearer $API_TOKEN\" https://api.corp-e5.io/v1/models\n", Nothing),
    ("README.md", "curl -u \"$USER:$TOKEN\" https://nexus.corp-e5.net/\n", Nothing),
    ("README.md", "Replace `<API_KEY>` with the key from **Settings → API keys**.\n", Nothing),
    ("README.md", "export OPENAI_API_KEY=<your key>\n", Nothing),
    ("docs/auth.md", "Authorization: Token <your-token>\n", Nothing),
    ("README.md", "| `ADMIN_PASSWORD` | Password of the first admin user | *(required)* |\n", Nothing),
    ("README.md", "The default password is `admin`; change it after the first login.\n", Nothing),
    // CI
    (".github/workflows/deploy.yml", "        with:\n          username: ${{ github.actor }}\n          password: ${{ secrets.GITHUB_TOKEN }}\n", Nothing),
    (".github/workflows/ci.yml", "    env:\n      OPENAI_API_KEY: ${{ secrets.OPENAI_API_KEY }}\n", Nothing),
    (".github/workflows/release.yml", "      - uses: pypa/gh-action-pypi-publish@release/v1\n        with:\n          password: ${{ secrets.PYPI_API_TOKEN }}\n", Nothing),
    ("action.yml", "inputs:\n  api-key:\n    description: 'API key for the service'\n    required: true\n", Nothing),
    (".travis.yml", "env:\n  global:\n    - secure: \"«B»«B»«B»\"\n", Nothing),
    // Kubernetes and Vault references
    ("secret.yaml", "kind: Secret\ndata:\n  password: cGFzc3dvcmQ=\n", Nothing),
    ("deployment.yaml", "        - name: API_KEY\n          valueFrom:\n            secretKeyRef:\n              name: api\n              key: api-key\n", Nothing),
    ("externalsecret.yaml", "  data:\n    - secretKey: password\n      remoteRef:\n        key: prod/db\n        property: password\n", Nothing),
    ("pod.yaml", "    vault.hashicorp.com/agent-inject-secret-db: \"database/creds/app\"\n", Nothing),
    // .pgpass, Docker config, .netrc
    (".pgpass", "# hostname:port:database:username:password\n", Nothing),
    (".pgpass", "localhost:5432:*:postgres:postgres\n", Nothing),
    ("config.json", "{\"auths\": {\"registry.corp-e5.net\": {}}, \"credsStore\": \"desktop\"}\n", Nothing),
    ("config.json", "{\"auths\": {\"ghcr.io\": {\"auth\": \"dXNlcm5hbWU6cGFzc3dvcmQ=\"}}}\n", Nothing),
    (".netrc", "machine github.com login oauth password x-oauth-basic\n", Nothing),
    // SQL
    ("dump.sql", "INSERT INTO `wp_options` VALUES (1,'siteurl','https://blog.corp-e5.com','yes');\n", Nothing),
    ("dump.sql", "INSERT INTO `wp_users` VALUES (1,'admin','$P$B«S»«S»','admin','admin@corp-e5.com');\n", Nothing),
    ("schema.sql", "CREATE TABLE users (id SERIAL PRIMARY KEY, email TEXT NOT NULL, password_hash TEXT NOT NULL, api_key CHAR(32));\n", Nothing),
    ("seed.sql", "INSERT INTO settings (name, value) VALUES ('password_min_length', '12'), ('session_timeout', '3600');\n", Nothing),
    ("init.sql", "INSERT INTO users (username, password) VALUES ('admin', crypt('admin', gen_salt('bf')));\n", Nothing),
    // LDAP, Django, Rails, Laravel
    ("slapd.conf", "rootpw {SSHA}«B»\n", Nothing),
    ("sssd.conf", "ldap_default_authtok_type = password\n", Nothing),
    ("ldap.yml", "  bind_password: <%= ENV['LDAP_BIND_PASSWORD'] %>\n", Nothing),
    ("settings.py", "AUTH_PASSWORD_VALIDATORS = [{\"NAME\": \"django.contrib.auth.password_validation.MinimumLengthValidator\"}]\n", Nothing),
    ("config/secrets.yml", "production:\n  secret_key_base: <%= ENV[\"SECRET_KEY_BASE\"] %>\n", Nothing),
    (".env.example", "APP_KEY=\nDB_PASSWORD=secret\nMAIL_PASSWORD=null\n", Nothing),
    ("config/database.php", "            'password' => env('DB_PASSWORD', ''),\n", Nothing),
    // notebooks
    ("demo.ipynb", "{\"cells\": [{\"cell_type\": \"code\", \"execution_count\": 1, \"metadata\": {}, \"outputs\": [{\"name\": \"stdout\", \"output_type\": \"stream\", \"text\": [\"API key: ········\\n\"]}], \"source\": [\"from getpass import getpass\\n\", \"api_key = getpass(\\\"API key: \\\")\"]}], \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}\n", Nothing),
    ("usage.ipynb", "{\"cells\": [{\"cell_type\": \"code\", \"execution_count\": 7, \"metadata\": {}, \"outputs\": [{\"data\": {\"text/plain\": [\"CompletionUsage(completion_tokens=211, prompt_tokens=1532, total_tokens=1743)\"]}, \"execution_count\": 7, \"metadata\": {}, \"output_type\": \"execute_result\"}], \"source\": [\"response.usage\"]}], \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}\n", Nothing),
    // i18n, test doubles, ids, public values, encrypted values
    ("de.json", "{\"password\": \"Passwort\", \"api_key\": \"API-Schlüssel\"}\n", Nothing),
    ("test_auth.py", "    assert check_password(\"hunter2\", user.password_hash)\n", Nothing),
    ("spec/factories/users.rb", "    password { \"password123\" }\n", Nothing),
    ("auth.test.ts", "  const token = 'fake-jwt-token';\n", Nothing),
    ("fixtures/accounts.json", "{\"api_key\": \"sk_test_xxxxxxxxxxxxxxxxxxxxxxxx\"}\n", Nothing),
    ("payments.py", "idempotency_key = \"«U»\"\n", Nothing),
    ("azure.yaml", "tenant_id: «U»\nclient_id: «U»\n", Nothing),
    ("recaptcha.html", "<div class=\"g-recaptcha\" data-sitekey=\"6Lc«S»«S»1234567890\"></div>\n", Nothing),
    ("checkout.js", "const stripe = Stripe('pk_live_«T»');\n", Nothing),
    ("wg0.conf", "[Peer]\nPublicKey = «B»\nAllowedIPs = 10.8.0.2/32\n", Nothing),
    ("renovate.json", "{\"hostRules\": [{\"matchHost\": \"npm.corp-e5.net\", \"encrypted\": {\"token\": \"wcFMA«B»«B»\"}}]}\n", Nothing),
    // names, paths and expressions around credential words
    ("jwt.py", "JWT_ALGORITHM = \"HS256\"\nJWT_SECRET_KEY_ENV = \"JWT_SECRET_KEY\"\n", Nothing),
    ("oauth.py", "GRANT_TYPE = \"client_credentials\"\nTOKEN_PATH = \"/oauth2/token\"\n", Nothing),
    ("constants.ts", "export const STORAGE_KEY_ACCESS_TOKEN = 'app.accessToken';\n", Nothing),
    ("Login.jsx", "const [password, setPassword] = useState('');\n", Nothing),
    ("schema.prisma", "  password  String\n  apiKey    String   @unique\n", Nothing),
    ("serializers.py", "    password = serializers.CharField(write_only=True, min_length=8)\n", Nothing),
    ("audit.log", "2025-01-02T12:00:01Z user=ops action=rotate_secret secret_name=prod/db/password status=ok\n", Nothing),
    ("terraform.tfvars", "db_password = \"\" # set via TF_VAR_db_password\n", Nothing),
    ("main.tf", "  password = random_password.db.result\n", Nothing),
    ("rds.tf", "  master_password = data.aws_secretsmanager_secret_version.db.secret_string\n", Nothing),
    ("values.yaml", "  existingSecret: \"\"\n  existingSecretPasswordKey: password\n", Nothing),
    ("ipsec.conf", "conn corp\n    authby=secret\n    leftid=@vpn.corp-e5.net\n", Nothing),
    ("hostapd.conf", "wpa_passphrase=YOUR_PASSPHRASE\n", Nothing),
    ("user-data", "#cloud-config\nchpasswd:\n  expire: true\n  users:\n    - name: ubuntu\n      type: RANDOM\n", Nothing),
    ("crontab", "0 3 * * * /usr/local/bin/backup.sh --password-file /etc/backup/pass\n", Nothing),
    ("Vagrantfile", "  config.ssh.password = \"vagrant\"\n", Nothing),
    ("mailer.js", "  auth: { user: process.env.SMTP_USER, pass: process.env.SMTP_PASS }\n", Nothing),
    ("sync.py", "r = requests.get(url, auth=(user, os.environ[\"API_PASSWORD\"]))\n", Nothing),
    ("Program.cs", "var credential = new NetworkCredential(user, password);\n", Nothing),
    ("db.pl", "my $dbh = DBI->connect($dsn, $user, $ENV{DB_PASS});\n", Nothing),
    (".Renviron", "GITHUB_PAT=\n", Nothing),
    ("docker-compose.yml", "      - MYSQL_RANDOM_ROOT_PASSWORD=yes\n      - POSTGRES_HOST_AUTH_METHOD=trust\n", Nothing),
    ("docker-compose.yml", "    secrets:\n      - db_password\n", Nothing),
];

/// Written once, before keysweep was run on it, for the long tail of a labelled-lines benchmark built from
/// public repositories, in what the first four sets lack: documentation (reStructuredText, Markdown tables and
/// prose, AsciiDoc, HTML, plain text), test code passing literal passwords to helpers (`login("…", "…")`,
/// Cypress/Playwright/Capybara form fills, fixtures), long-tail keywords (`private_token`, `app_key`,
/// `master_key`, `hmac_key`, `passphrase`, `storepass`, `keystorePass`, `db_pass`, `smtp_pass`, `ssh_pass`,
/// camelCase `secretKey`, `KEY_`-prefixed names, `erlangCookie`, `blowfish_secret`), values on the line after
/// their keyword (YAML block scalars, pretty-printed JSON, XML, parenthesised Python, Java continuations),
/// human-chosen passwords in real configs, Terraform, Ansible, Helm, Puppet, Chef, Salt, Nix, Jenkins
/// `credentials.xml`, Maven, `.npmrc`, `pip.conf`, `gradle.properties`, Spring Cloud Config, .NET `web.config`,
/// Tomcat, MySQL/ODBC/msmtp/fetchmail/rclone/s3cmd files, PHP arrays, Perl, Lua, R, Julia, MATLAB, Elixir,
/// Clojure, Haskell; and the negatives of each kind (schemas, GraphQL and protobuf types, form labels, i18n,
/// prompts, environment lookups, getter calls, placeholders, hashes, masked values, encrypted values, references
/// to secret stores, template expressions). Its first run's misses and false positives were read and their
/// mechanisms fixed (`generic_secrets_precision_recall`), so it is held out no longer: the test holds its
/// final counts.
pub const HOLDOUT5: &[Case] = &[
    // --- documentation: reStructuredText, Markdown, AsciiDoc, HTML, plain text ---
    ("docs/install.rst", ".. code-block:: bash\n\n   export DATABASE_PASSWORD=«P»\n", Find(PW)),
    ("docs/config.rst", "Set ``api_key`` to ``«T»`` in ``settings.ini``.\n", Find(SEC)),
    ("NOTES.txt", "staging db password is «P»\n", Find(PW)),
    ("README.adoc", "[source,properties]\n----\nmail.smtp.password=«P»\n----\n", Find(PW)),
    ("docs/setup.html", "<pre><code>API_TOKEN=«T»</code></pre>\n", Find(SEC)),
    ("docs/index.html", "<tr><td>api_key</td><td>«T»</td></tr>\n", Find(SEC)),
    ("README.md", "| Service | User | Password |\n|---|---|---|\n| grafana | admin | «P» |\n", Find(PW)),
    ("docs/usage.md", "```python\nclient = Client(api_key=\"«T»\")\n```\n", Find(SEC)),
    ("docs/api.rst", "   curl -u apiuser:«P» https://api.corp-f6.io/v2/orders\n", Find(CLI)),
    ("wiki.txt", "Jenkins\n  URL: https://ci.corp-f6.net\n  Password: «P»\n", Find(PW)),
    ("README.md", "Token: **«T»**\n", Find(SEC)),
    ("docs/deploy.md", "The registry password is `«P»` (ask ops before rotating it).\n", Find(PW)),
    // --- test code: literal passwords passed to helpers ---
    ("LoginTest.java", "        loginPage.login(\"admin\", \"«P»\");\n", Find(FN)),
    ("AuthTests.cs", "            var result = await _auth.SignInAsync(\"alice@corp-f6.com\", \"«P»\");\n", Find(FN)),
    ("login_spec.rb", "    fill_in 'Password', with: '«P»'\n", Find(PW)),
    ("login.cy.js", "    cy.get('#password').type('«P»')\n", Find(PW)),
    ("test_api.py", "    client.login(username=\"admin\", password=\"«P»\")\n", Find(PW)),
    ("auth.spec.ts", "    await page.fill('input[name=\"password\"]', '«P»');\n", Find(PW)),
    ("LoginTest.php", "        $this->post('/login', ['email' => 'a@corp-f6.com', 'password' => '«P»']);\n", Find(PW)),
    ("conftest.py", "@pytest.fixture\ndef api_token():\n    return \"«T»\"\n", Find(SEC)),
    ("ApiTest.java", "        given().auth().preemptive().basic(\"svc\", \"«P»\")\n", Find(FN)),
    ("UserServiceTest.kt", "        val creds = Credentials(username = \"bob\", password = \"«P»\")\n", Find(PW)),
    ("integration_test.go", "\tdb, err := sql.Open(\"mysql\", \"app:«P»@tcp(db1.corp-f6.net:3306)/app\")\n", Find(PW)),
    // --- long-tail keywords ---
    ("s3.yml", "aws:\n  secret_access_key: «B40»\n", Find(SEC)),
    ("gitlab.yml", "gitlab:\n  private_token: «T»\n", Find(SEC)),
    ("settings.py", "API_SECRET = '«T»'\n", Find(SEC)),
    ("config.js", "  app_key: '«H»',\n", Find(SEC)),
    ("credentials.yml", "master_key: «H»\n", Find(SEC)),
    ("config.py", "ENCRYPTION_KEY = b\"«B»\"\n", Find(SEC)),
    ("webhook.rb", "HMAC_KEY = '«H64»'\n", Find(SEC)),
    ("download.txt", "https://corpf6.blob.core.windows.net/builds/app.zip?sv=2021-08-06&se=2026-01-01&sr=b&sp=r&sig=«B»\n", Find(SEC)),
    ("ssh.cfg", "[key]\npath = /home/deploy/.ssh/id_ed25519\npassphrase = «P»\n", Find(PW)),
    ("gradle.properties", "keystore_password=«P»\n", Find(PW)),
    ("build.xml", "<signjar jar=\"app.jar\" alias=\"release\" keystore=\"release.jks\" storepass=\"«P»\"/>\n", Find(PW)),
    ("sign.sh", "jarsigner -keystore release.jks -storepass «P» app.apk release\n", Find(CLI)),
    ("settings.yaml", "db_pass: «P»\n", Find(PW)),
    ("mail.ini", "[mail]\nsmtp_pass = «P»\n", Find(PW)),
    ("hosts.yml", "all:\n  vars:\n    ssh_pass: «P»\n", Find(PW)),
    ("Config.java", "    private String secretKey = \"«T»\";\n", Find(SEC)),
    ("config.env", "KEY_SENDGRID=«T»\n", Find(SEC)),
    ("app.yaml", "apiSecretKey: «T»\n", Find(SEC)),
    ("slack.py", "SIGNING_SECRET = '«H»'\n", Find(SEC)),
    ("webhooks.py", "WEBHOOK_SECRET = \"«T»\"\n", Find(SEC)),
    ("oss.ts", "export const ACCESS_KEY_SECRET = '«T»';\n", Find(SEC)),
    ("jwt.go", "var hmacSecret = \"«T»\"\n", Find(SEC)),
    ("radius.conf", "client corp {\n  shared_secret = «T»\n}\n", Find(SEC)),
    ("bot.yml", "telegram:\n  bot_token: «T»\n", Find(SEC)),
    ("phpmyadmin/config.inc.php", "$cfg['blowfish_secret'] = '«T»';\n", Find(SEC)),
    ("values.yaml", "rabbitmq:\n  auth:\n    erlangCookie: «T»\n", Find(SEC)),
    ("auth.conf", "client_secret «T»\n", Find(SEC)),
    // --- values on the line after their keyword ---
    ("config.yaml", "database:\n  password: >-\n    «P»\n", Find(PW)),
    ("config.yaml", "api:\n  token: |\n    «T»\n", Find(SEC)),
    ("creds.json", "{\n  \"password\":\n    \"«P»\"\n}\n", Find(PW)),
    ("config.xml", "<password>\n    «P»\n</password>\n", Find(XML)),
    ("settings.py", "API_KEY = (\n    \"«T»\"\n)\n", Find(SEC)),
    ("Constants.java", "    private static final String TOKEN =\n        \"«T»\";\n", Find(SEC)),
    // --- human-chosen passwords in real configs ---
    ("application-prod.properties", "spring.datasource.password=«HUMAN»\n", Find(PW)),
    ("docker-compose.prod.yml", "    environment:\n      MYSQL_PASSWORD: «HUMAN»\n", Find(PW)),
    ("config.php", "$db_pass = '«HUMAN»';\n", Find(PW)),
    ("inventory", "[db]\ndb1 ansible_become_password=«HUMAN»\n", Find(PW)),
    ("wp-config.php", "define('DB_PASSWORD', '«HUMAN»');\n", Find("generic.named-argument")),
    // --- Terraform / HCL ---
    ("main.tf", "resource \"azurerm_sql_server\" \"main\" {\n  administrator_login          = \"sqladmin\"\n  administrator_login_password = \"«P»\"\n}\n", Find(PW)),
    ("rds.tf", "  master_password = \"«P»\"\n", Find(PW)),
    ("github.tf", "provider \"github\" {\n  owner = \"corp-f6\"\n  token = \"«T»\"\n}\n", Find(SEC)),
    ("vault.hcl", "seal \"transit\" {\n  address = \"https://vault.corp-f6.net:8200\"\n  token   = \"«T»\"\n}\n", Find(SEC)),
    // --- Ansible, Helm, Puppet, Chef, Salt, Nix ---
    ("group_vars/db.yml", "postgresql_users:\n  - name: app\n    password: «P»\n", Find(PW)),
    ("roles/app/defaults/main.yml", "app_secret_key: «T»\n", Find(SEC)),
    ("playbook.yml", "  vars:\n    mysql_root_pass: «P»\n", Find(PW)),
    ("values.yaml", "minio:\n  rootUser: admin\n  rootPassword: «P»\n", Find(PW)),
    ("values-prod.yaml", "app:\n  replicas: 3\n  apiKey: «T»\n", Find(SEC)),
    ("site.pp", "class { 'mysql::server':\n  root_password => '«P»',\n}\n", Find(PW)),
    ("attributes/default.rb", "default['postgresql']['password']['postgres'] = '«P»'\n", Find(PW)),
    ("data_bags/creds/smtp.json", "{\"id\": \"smtp\", \"password\": \"«P»\"}\n", Find(PW)),
    ("hieradata/common.yaml", "profile::db::password: '«P»'\n", Find(PW)),
    ("pillar/mysql.sls", "mysql:\n  server:\n    root_password: '«P»'\n", Find(PW)),
    ("configuration.nix", "  services.grafana.settings.security.admin_password = \"«P»\";\n", Find(PW)),
    // --- Jenkins, Maven, npm, pip, Gradle ---
    ("credentials.xml", "<com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>\n  <id>deploy</id>\n  <username>deploy</username>\n  <password>«P»</password>\n</com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>\n", Find(XML)),
    ("settings.xml", "<server>\n  <id>gpg.passphrase</id>\n  <passphrase>«P»</passphrase>\n</server>\n", Find(XML)),
    ("settings.xml", "<properties>\n  <gpg.passphrase>«P»</gpg.passphrase>\n</properties>\n", Find(XML)),
    (".npmrc", "//npm.corp-f6.net/:username=ci\n//npm.corp-f6.net/:_password=«B»\n", Find(SEC)),
    (".npmrc", "registry=https://npm.corp-f6.net/\n_auth=«BASIC»\n", Find(SEC)),
    ("pip.conf", "[global]\nextra-index-url = https://__token__:«T»@pypi.corp-f6.net/simple/\n", Find(URL)),
    ("gradle.properties", "signing.keyId=24875D73\nsigning.password=«P»\n", Find(PW)),
    ("gradle.properties", "ossrhToken=«T»\n", Find(SEC)),
    // --- Spring Cloud Config, .NET, Java servers ---
    ("bootstrap.yml", "spring:\n  cloud:\n    config:\n      uri: https://config.corp-f6.net\n      username: config\n      password: «P»\n", Find(PW)),
    ("bootstrap.yml", "encrypt:\n  key: «T»\n", Find(SEC)),
    ("web.config", "<connectionStrings>\n  <add name=\"Default\" connectionString=\"Server=sql1.corp-f6.net;Database=App;User Id=app;Password=«P»;\" providerName=\"System.Data.SqlClient\" />\n</connectionStrings>\n", Find(PW)),
    ("appsettings.json", "  \"ConnectionStrings\": {\n    \"Redis\": \"cache1.corp-f6.net:6380,password=«P»,ssl=True\"\n  },\n", Find(PW)),
    ("web.config", "<machineKey decryptionKey=\"«H64»\" validation=\"HMACSHA256\" decryption=\"AES\" />\n", Find(SEC)),
    ("appsettings.Development.json", "\"AzureAd\": {\n  \"ClientId\": \"8d3f2a61-4b7c-4e1a-9f0d-2c6b5e8a7d14\",\n  \"ClientSecret\": \"«T»\"\n}\n", Find(SEC)),
    ("server.xml", "<Connector port=\"8443\" protocol=\"HTTP/1.1\" SSLEnabled=\"true\" keystoreFile=\"conf/app.jks\" keystorePass=\"«P»\" />\n", Find(PW)),
    ("tomcat-users.xml", "<user username=\"admin\" password=\"«P»\" roles=\"manager-gui\"/>\n", Find(PW)),
    ("context.xml", "<Resource name=\"jdbc/app\" auth=\"Container\" username=\"app\" password=\"«P»\" url=\"jdbc:mysql://db1.corp-f6.net/app\"/>\n", Find(PW)),
    ("kafka.properties", "ssl.keystore.password=«P»\n", Find(PW)),
    ("local.settings.json", "    \"AzureWebJobsStorage\": \"DefaultEndpointsProtocol=https;AccountName=corpf6;AccountKey=«B»;EndpointSuffix=core.windows.net\",\n", Find(SEC)),
    // --- host tools ---
    ("my.cnf", "[client]\nuser=root\npassword=«P»\n", Find(PW)),
    ("odbc.ini", "[App]\nDriver=PostgreSQL\nServername=db1.corp-f6.net\nUID=app\nPWD=«P»\n", Find(PW)),
    ("sendmail.ini", "[sendmail]\nauth_username=alerts@corp-f6.com\nauth_password=«P»\n", Find(PW)),
    (".msmtprc", "account default\nhost smtp.corp-f6.net\nuser alerts\npassword «P»\n", Find(PW)),
    (".fetchmailrc", "poll mail.corp-f6.net user 'ops' there with password '«P»'\n", Find(PW)),
    ("rclone.conf", "[remote]\ntype = webdav\nuser = svc\npass = «T»\n", Find(PW)),
    (".s3cfg", "[default]\nsecret_key = «B40»\n", Find(SEC)),
    ("redis.conf", "replicaof 10.0.5.10 6379\nmasterauth «P»\n", Find(PW)),
    ("startup.sh", "mysql -u root -p«P» -e 'CREATE DATABASE app'\n", Find(CLI)),
    ("backup.sh", "mysqldump --user=backup --password=«P» app > app.sql\n", Find(CLI)),
    ("docker-compose.yml", "  queue:\n    environment:\n      - \"RABBITMQ_DEFAULT_PASS=«P»\"\n", Find(PW)),
    ("config.toml", "[[runners]]\n  name = \"ci-1\"\n  url = \"https://gitlab.corp-f6.net/\"\n  token = \"«T»\"\n", Find(SEC)),
    // --- PHP, Perl, Lua, R, Julia, MATLAB, Elixir, Clojure, Haskell ---
    ("config/app.php", "return [\n    'api_key' => '«T»',\n];\n", Find(SEC)),
    ("LocalSettings.php", "$wgDBpassword = \"«P»\";\n", Find(PW)),
    ("app/config/parameters.yml", "parameters:\n    mailer_password: «P»\n", Find(PW)),
    ("config.pl", "my %db = (user => 'app', pass => '«P»', host => 'db1');\n", Find(PW)),
    ("Config.pm", "    api_key  => \"«T»\",\n", Find(SEC)),
    ("config.lua", "return {\n  redis = { host = \"cache1\", password = \"«P»\" },\n}\n", Find(PW)),
    ("init.lua", "local API_TOKEN = \"«T»\"\n", Find(SEC)),
    ("analysis.R", "Sys.setenv(OPENAI_API_KEY = \"«T»\")\n", Find(SEC)),
    ("db.R", "con <- dbConnect(RPostgres::Postgres(), host = \"db1.corp-f6.net\", user = \"analyst\", password = \"«P»\")\n", Find(PW)),
    ("app.R", "api_key <- \"«T»\"\n", Find(SEC)),
    ("config.jl", "const API_KEY = \"«T»\"\n", Find(SEC)),
    ("db.jl", "conn = LibPQ.Connection(\"host=db1 dbname=app user=app password=«P»\")\n", Find(PW)),
    ("config.m", "apiKey = '«T»';\n", Find(SEC)),
    ("fetch.m", "options = weboptions('Username', 'svc', 'Password', '«P»');\n", Find(PW)),
    ("config/prod.exs", "config :app, App.Repo,\n  username: \"app\",\n  password: \"«P»\",\n", Find(PW)),
    ("config/prod.secret.exs", "config :app, AppWeb.Endpoint, secret_key_base: \"«H128»\"\n", Find(SEC)),
    ("config.clj", "{:db {:user \"app\" :password \"«P»\"}}\n", Find(PW)),
    ("Config.hs", "apiKey :: Text\napiKey = \"«T»\"\n", Find(SEC)),
    // --- last sessions' known misses, in new clothes ---
    ("seed.sql", "INSERT INTO users (id, email, password, role) VALUES (1, 'ops@corp-f6.com', '«P»', 'admin');\n", Find(PW)),
    ("fixtures.sql", "INSERT INTO `api_clients` (`id`, `name`, `secret`) VALUES\n(1, 'billing', '«T»');\n", Find(SEC)),
    ("crypto.go", "var secret = []byte(\"«T»\")\n", Find(SEC)),
    ("app.ini", "pw = «P»\nuser = admin\n", Find(PW)),
    ("map.cmd", "net use \\\\fs2.corp-f6.net\\data «P» /user:CORP\\backup /persistent:no\n", Find(CLI)),
    ("ci.env", "GH_PAT=«T»\n", Find(SEC)),
    ("circle.yml", "      HEROKU_API_KEY: «U»\n", Find(SEC)),
    ("config.yaml", "pinecone:\n  api_key: «U»\n", Find(SEC)),

    // ===== negatives =====
    // documentation
    ("docs/config.rst", "``password``\n    The password used to connect to the database. Default: ``None``.\n", Nothing),
    ("README.md", "Set `API_KEY` to your key from the dashboard: `export API_KEY=<your-api-key>`\n", Nothing),
    ("docs/install.md", "```\nexport OPENAI_API_KEY=sk-...\n```\n", Nothing),
    ("README.adoc", "| `spring.datasource.password` | Login password of the database. |\n", Nothing),
    ("docs/index.html", "<label for=\"password\">Password</label>\n<input type=\"password\" id=\"password\" name=\"password\" required>\n", Nothing),
    ("README.md", "| Service | User | Password |\n|---|---|---|\n| grafana | admin | admin |\n", Nothing),
    ("docs/faq.txt", "Q: Where do I find my API token?\nA: Under Settings > Tokens.\n", Nothing),
    ("CHANGELOG.md", "- Fixed: the `password` field is no longer logged (#1423)\n", Nothing),
    ("docs/auth.rst", "   :param token: the access token returned by :func:`login`.\n", Nothing),
    ("docs/api.md", "    Authorization: Bearer <token>\n", Nothing),
    ("README.md", "Password: `********`\n", Nothing),
    ("README.rst", ".. note::\n   Never commit your ``SECRET_KEY``; read it from the environment instead.\n", Nothing),
    ("README.md", "Default credentials are `admin` / `admin`; change them after the first login.\n", Nothing),
    ("docs/deploy.md", "The registry password is stored in Vault under `secret/ci/registry`.\n", Nothing),
    // test code
    ("LoginTest.java", "        loginPage.login(\"admin\", \"password\");\n", Nothing),
    ("test_auth.py", "    client.login(username=\"user\", password=\"secret\")\n", Nothing),
    ("auth.spec.ts", "    await page.fill('#password', process.env.E2E_PASSWORD!);\n", Nothing),
    ("login_spec.rb", "    fill_in 'Password', with: user.password\n", Nothing),
    ("UserTest.php", "        $user = User::factory()->create(['password' => Hash::make('password')]);\n", Nothing),
    ("AuthTests.cs", "            Assert.Equal(\"Invalid password\", result.Error);\n", Nothing),
    ("test_config.py", "    monkeypatch.setenv(\"API_KEY\", \"dummy\")\n", Nothing),
    ("conftest.py", "@pytest.fixture\ndef api_token():\n    return \"test-token\"\n", Nothing),
    ("UserServiceTest.kt", "        val user = User(\"bob\", encoder.encode(rawPassword))\n", Nothing),
    ("mock_server.js", "  if (req.headers['x-api-key'] !== MOCK_API_KEY) return res.status(401).end();\n", Nothing),
    ("login.cy.js", "    cy.get('#password').type(Cypress.env('PASSWORD'), { log: false })\n", Nothing),
    // long-tail keywords around names, sizes and calls
    ("config.py", "SECRET_ACCESS_KEY_ENV = 'AWS_SECRET_ACCESS_KEY'\n", Nothing),
    ("gitlab.py", "    private_token = kwargs.get('private_token')\n", Nothing),
    ("settings.py", "API_SECRET = os.environ.get('API_SECRET', '')\n", Nothing),
    ("models.py", "    app_key = models.CharField(max_length=64, unique=True)\n", Nothing),
    ("crypto.py", "ENCRYPTION_KEY_SIZE = 32\n", Nothing),
    ("hmac.js", "const hmacKey = crypto.randomBytes(32);\n", Nothing),
    ("signer.py", "    sig = hmac.new(key, msg, hashlib.sha256).hexdigest()\n", Nothing),
    ("ssh.py", "    passphrase = getpass.getpass('Key passphrase: ')\n", Nothing),
    ("build.gradle", "        storePassword keystoreProperties['storePassword']\n", Nothing),
    ("settings.yaml", "db_pass: \"{{ vault_db_pass }}\"\n", Nothing),
    ("Config.java", "    @Value(\"${app.secretKey}\")\n    private String secretKey;\n", Nothing),
    ("constants.js", "export const KEY_ENTER = 13;\nexport const KEY_ESCAPE = 27;\n", Nothing),
    ("storage.ts", "const KEY_ACCESS_TOKEN = 'accessToken';\n", Nothing),
    ("keys.go", "const masterKeyPath = \"/etc/app/master.key\"\n", Nothing),
    ("production.rb", "  config.require_master_key = true\n", Nothing),
    ("settings.py", "SECRET_KEY = get_random_secret_key()\n", Nothing),
    ("settings.py", "PASSWORD_RESET_TIMEOUT = 259200\n", Nothing),
    ("session.py", "SESSION_TOKEN_TTL = 3600\nSESSION_TOKEN_HEADER = \"X-Session-Token\"\n", Nothing),
    ("cache.py", "cache_key = f\"user:{user_id}:token\"\n", Nothing),
    ("collate.py", "    pad_token = tokenizer.pad_token or tokenizer.eos_token\n", Nothing),
    ("keyboard.c", "    case KEY_PASSWORD_TOGGLE: toggle(); break;\n", Nothing),
    // values on the next line that are not secrets
    ("config.yaml", "database:\n  password: >-\n    ${DB_PASSWORD}\n", Nothing),
    ("creds.json", "{\n  \"password\":\n    null\n}\n", Nothing),
    ("config.xml", "<password>\n    ${env.DB_PASSWORD}\n</password>\n", Nothing),
    ("schema.json", "{\n  \"password\": {\n    \"type\": \"string\",\n    \"minLength\": 8\n  }\n}\n", Nothing),
    ("settings.py", "API_KEY = (\n    os.environ[\"API_KEY\"]\n)\n", Nothing),
    // placeholders and defaults
    ("application.properties", "spring.datasource.password=changeme\n", Nothing),
    ("docker-compose.yml", "    environment:\n      MYSQL_PASSWORD: password\n", Nothing),
    ("config.php", "$db_pass = 'your_password_here';\n", Nothing),
    (".env.sample", "DB_PASSWORD=<db-password>\nAPI_KEY=xxxxxxxxxxxxxxxx\n", Nothing),
    ("config.example.yml", "password: CHANGE_ME\n", Nothing),
    ("settings.ini", "[db]\npassword = ********\n", Nothing),
    ("README.md", "password: \"REPLACE_WITH_YOUR_PASSWORD\"\n", Nothing),
    ("app.ini", "pw =\nuser = admin\n", Nothing),
    // Terraform, Ansible, Helm, Puppet, Chef
    ("variables.tf", "variable \"db_password\" {\n  type      = string\n  sensitive = true\n}\n", Nothing),
    ("main.tf", "  administrator_login_password = var.sql_admin_password\n", Nothing),
    ("outputs.tf", "output \"db_password\" {\n  value     = aws_db_instance.db.password\n  sensitive = true\n}\n", Nothing),
    ("github.tf", "  token = data.vault_generic_secret.gh.data[\"token\"]\n", Nothing),
    ("group_vars/all/vault.yml", "$ANSIBLE_VAULT;1.1;AES256\n«H64»\n«H64»\n", Nothing),
    ("group_vars/db.yml", "mysql_root_password: \"{{ lookup('env', 'MYSQL_ROOT_PASSWORD') }}\"\n", Nothing),
    ("tasks/main.yml", "- name: set password\n  user:\n    name: deploy\n    password: \"{{ deploy_password | password_hash('sha512') }}\"\n", Nothing),
    ("values.yaml", "auth:\n  existingSecret: app-secrets\n  password: \"\"\n", Nothing),
    ("templates/secret.yaml", "  password: {{ .Values.auth.password | b64enc | quote }}\n", Nothing),
    ("values.yaml", "# -- Password for the admin user. Ignored if existingSecret is set.\nadminPassword: \"\"\n", Nothing),
    ("site.pp", "  root_password => lookup('mysql::root_password'),\n", Nothing),
    ("recipes/default.rb", "db_password = data_bag_item('secrets', 'db')['password']\n", Nothing),
    ("init.pp", "  $password = hiera('app::password')\n", Nothing),
    // Jenkins, Maven, npm, pip, Gradle
    ("credentials.xml", "  <password>{AQAAABAAAAAQ«B»}</password>\n", Nothing),
    ("settings.xml", "<password>${env.NEXUS_PASSWORD}</password>\n", Nothing),
    ("pom.xml", "<gpg.passphrase>${gpg.passphrase}</gpg.passphrase>\n", Nothing),
    (".npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n", Nothing),
    ("pip.conf", "[global]\nindex-url = https://pypi.org/simple\ntrusted-host = pypi.corp-f6.net\n", Nothing),
    ("gradle.properties", "signing.secretKeyRingFile=/home/ci/.gnupg/secring.gpg\norg.gradle.jvmargs=-Xmx2g\n", Nothing),
    ("gradle.properties", "artifactoryPassword=\n", Nothing),
    // Spring, .NET
    ("bootstrap.yml", "spring:\n  cloud:\n    config:\n      password: ${CONFIG_SERVER_PASSWORD}\n", Nothing),
    ("application.yml", "spring:\n  datasource:\n    password: '{cipher}«H128»'\n", Nothing),
    ("web.config", "<add name=\"Default\" connectionString=\"Server=(localdb)\\mssqllocaldb;Database=App;Trusted_Connection=True;\" />\n", Nothing),
    ("appsettings.json", "  \"Jwt\": { \"Key\": \"\", \"Issuer\": \"https://auth.corp-f6.net\" },\n", Nothing),
    ("appsettings.json", "\"KeyVault\": { \"SecretName\": \"DbPassword\", \"VaultUri\": \"https://kv-prod.vault.azure.net/\" }\n", Nothing),
    ("Startup.cs", "    var apiKey = Configuration[\"ApiKey\"];\n", Nothing),
    // PHP, Perl, Lua, R, Julia, MATLAB, Elixir, Clojure
    ("config/app.php", "    'key' => env('APP_KEY'),\n", Nothing),
    ("lang/en/auth.php", "    'password' => 'The provided password is incorrect.',\n", Nothing),
    ("config.pl", "my $pass = $ENV{'DB_PASS'} // die \"DB_PASS not set\";\n", Nothing),
    ("Config.pm", "    password => undef,\n", Nothing),
    ("config.lua", "local password = os.getenv(\"REDIS_PASSWORD\")\n", Nothing),
    ("analysis.R", "api_key <- Sys.getenv(\"OPENAI_API_KEY\")\n", Nothing),
    ("db.R", "con <- dbConnect(RPostgres::Postgres(), password = rstudioapi::askForPassword(\"Database password\"))\n", Nothing),
    ("config.jl", "const API_KEY = get(ENV, \"API_KEY\", \"\")\n", Nothing),
    ("connect.m", "password = input('Password: ', 's');\n", Nothing),
    ("config/runtime.exs", "  password: System.get_env(\"DB_PASSWORD\"),\n", Nothing),
    ("config.clj", "{:db {:password (System/getenv \"DB_PASSWORD\")}}\n", Nothing),
    // schemas, types, forms, i18n, prompts
    ("schema.graphql", "type Mutation {\n  login(email: String!, password: String!): AuthPayload\n}\n", Nothing),
    ("user.proto", "message LoginRequest {\n  string username = 1;\n  string password = 2;\n}\n", Nothing),
    ("types.ts", "interface Credentials { apiKey: string; apiSecret: string }\n", Nothing),
    ("openapi.yaml", "        password:\n          type: string\n          format: password\n", Nothing),
    ("messages_fr.properties", "login.password=Mot de passe\nlogin.token.expired=Votre jeton a expir\\u00e9\n", Nothing),
    ("en.yml", "en:\n  devise:\n    passwords:\n      send_instructions: \"You will receive an email with instructions on how to reset your password.\"\n", Nothing),
    ("LoginForm.vue", "<input v-model=\"password\" type=\"password\" placeholder=\"Password\" autocomplete=\"current-password\" />\n", Nothing),
    ("cli.py", "    parser.add_argument('--password', help='database password (default: $DB_PASSWORD)')\n", Nothing),
    ("client.py", "        token = self._session.get_token()\n", Nothing),
    ("auth.go", "\tsecret, err := client.Logical().Read(\"secret/data/app\")\n", Nothing),
    // hashes, masked and encrypted values, ids, references
    ("users.csv", "id,username,password_hash\n1,admin,$2b$12$«BCRYPT»\n", Nothing),
    ("seed.sql", "INSERT INTO users (id, email, password, role) VALUES (1, 'ops@corp-f6.com', '$2y$10$«BCRYPT»', 'admin');\n", Nothing),
    ("seed.sql", "INSERT INTO users (id, email, password_reset_sent_at) VALUES (1, 'ops@corp-f6.com', '2024-03-01 10:00:00');\n", Nothing),
    ("app.log", "2024-05-01 12:00:00 INFO login ok user=admin password=********\n", Nothing),
    ("audit.json", "{\"event\": \"api_key.rotated\", \"api_key_id\": \"key_«S»\", \"actor\": \"ops\"}\n", Nothing),
    ("deployment.yaml", "        - name: DB_PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: db\n              key: password\n", Nothing),
    (".gitlab-ci.yml", "    - echo \"$CI_REGISTRY_PASSWORD\" | docker login -u \"$CI_REGISTRY_USER\" --password-stdin $CI_REGISTRY\n", Nothing),
    ("package-lock.json", "      \"integrity\": \"sha512-«B»«B»\"\n", Nothing),
    ("git.log", "commit «H40»\nAuthor: Ops <ops@corp-f6.net>\n", Nothing),
    ("map.cmd", "net use Z: \\\\fs2.corp-f6.net\\data /user:CORP\\%USERNAME% *\n", Nothing),
    ("snyk.yml", "SNYK_ORG_ID: «U»\n", Nothing),
    ("heroku.json", "{\"app_id\": \"«U»\", \"stack\": \"heroku-22\"}\n", Nothing),
];

/// A random password of `len` characters holding a lower-case letter, an upper-case letter, a digit and one of
/// `symbols`, with no run of three equal characters.
fn password(r: &mut Rng, len: usize, symbols: &[u8]) -> String {
    loop {
        let mut s = r.string(ALNUM, len - 1).into_bytes();
        let at = 1 + r.below(len - 2);
        s.insert(at, *r.pick(symbols));
        let ok = s.iter().any(u8::is_ascii_lowercase)
            && s.iter().any(u8::is_ascii_uppercase)
            && s.iter().any(u8::is_ascii_digit);
        if ok {
            return String::from_utf8(s).unwrap_or_default();
        }
    }
}

/// The body of a PKCS#8/RSA key (base64 of a DER `SEQUENCE`, 256 characters) as a chain of string literals:
/// four 64-character lines, each ending in an escaped newline, joined by `sep` (the closing quote, an operator
/// or a line break, the next opening quote).
fn pem_chain(r: &mut Rng, sep: &str) -> String {
    let body = format!("MIIE{}", r.string(B64, 252));
    let lines: Vec<&str> = (0..4).map(|i| &body[i * 64..(i + 1) * 64]).collect();
    format!("{}\\n", lines.join(sep))
}

/// The body of a legacy encrypted PEM key (base64 of 192 bytes of cipher text: 12 AES blocks) as a chain of
/// string literals, like `pem_chain`.
fn encrypted_chain(r: &mut Rng, sep: &str) -> String {
    use base64::Engine as _;
    let raw: Vec<u8> = (0..192).map(|_| r.below(256) as u8).collect();
    let body = base64::engine::general_purpose::STANDARD.encode(raw);
    let lines: Vec<&str> = (0..4).map(|i| &body[i * 64..(i + 1) * 64]).collect();
    format!("{}\\n", lines.join(sep))
}

/// A NATS nkey: a user seed (`SUA…`, 58 characters) or a user public key (`U…`, 56), with its CRC-16 (or a
/// wrong one).
fn nkey(r: &mut Rng, seed: bool, good_crc: bool) -> String {
    use keysweep_detect::check::checksum::{base32, crc16_xmodem};
    let mut raw = if seed { vec![0x95, 0x00] } else { vec![160] };
    raw.extend((0..32).map(|_| r.below(256) as u8));
    let crc = crc16_xmodem(&raw) ^ u16::from(!good_crc);
    raw.extend(crc.to_le_bytes());
    base32(&raw)
}

/// A PEM block of `label` around 256 base64 characters of a DER `SEQUENCE`, and its body as the private-key
/// rules report it (the lines, each ended by a newline).
fn pem_block(r: &mut Rng, label: &str) -> (String, String) {
    let body = format!("MIIE{}", r.string(B64, 252));
    let lines: String = (0..4)
        .map(|i| format!("{}\n", &body[i * 64..(i + 1) * 64]))
        .collect();
    (
        format!("-----BEGIN {label}-----\n{lines}-----END {label}-----\n"),
        lines,
    )
}

/// The text of a marker and the secret it labels (the text itself, but for a base64-wrapped PEM key, whose
/// label is the key body the decoder reveals), fresh from `r`.
fn value(r: &mut Rng, marker: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    match marker {
        "KUBEKEY" => {
            let (pem, body) = pem_block(r, "RSA PRIVATE KEY");
            return Some((b64(&pem), body));
        }
        // A PEM key's cipher IV: public, labels nothing.
        "IV" => return Some((r.string(b"0123456789ABCDEF", 32), String::new())),
        "IV8" => return Some((r.string(b"0123456789ABCDEF", 16), String::new())),
        // A Kubernetes Secret's `data:` value and a Docker `auth`: base64 of a password, a token, or
        // `user:password`, labelled by the credential they encode.
        "B64P" => {
            let p = password(r, 14, b"!*-_.");
            return Some((b64(&p), p));
        }
        "B64T" => {
            let t = r.string(ALNUM, 32);
            return Some((b64(&t), t));
        }
        "DAUTH" => {
            let p = password(r, 14, b"!*-_.");
            return Some((b64(&format!("svc-{}:{p}", r.string(ALNUM, 4))), p));
        }
        "CERTB64" => {
            let pem = pem_block(r, "CERTIFICATE").0;
            return Some((b64(&pem), String::new()));
        }
        _ => {}
    }
    let v = match marker {
        "P" => password(r, 14, b"!*-_."),
        "P2" => password(r, 16, b"-_"),
        "W" => password(r, 7, b"!*-"),
        "PCT" => {
            let p = password(r, 12, b"!*");
            format!("{}%{}", &p[..6], &p[6..])
        }
        "T" => r.string(ALNUM, 32),
        // A password a person chose: a capitalised word, a year or a few digits, a symbol (`Summer2021!`).
        "HUMAN" => {
            let word = *r.pick(&[
                "Summer", "Winter", "Autumn", "Welcome", "Dragon", "Sunshine", "Football", "Liverpool",
                "Chelsea", "Shadow", "Freedom", "Princess", "Charlie", "Monday", "Yankees", "Barcelona",
            ]);
            let digits = if r.below(2) == 0 {
                format!("{}", 1980 + r.below(45))
            } else {
                format!("{:02}", r.below(100))
            };
            let symbol = *r.pick(&['!', '@', '#', '$', '*']);
            format!("{word}{digits}{symbol}")
        }
        // A generated password holding the symbols that end values in naive grammars: `%$#@/+=`.
        "PSYM" => {
            let mut p = password(r, 16, b"%$#@/+=").into_bytes();
            let at = 1 + r.below(14);
            p[at] = *r.pick(b"%$#@/+=");
            String::from_utf8(p).unwrap_or_default()
        }
        // A WordPress salt: 64 printable characters, any symbol but quotes and backslashes.
        "WPSALT" => r.string(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&()*+,-./:;<=>?@[]^_`{|}~ ",
            64,
        ),
        "S" => r.string(ALNUM, 14),
        "S10" => r.string(ALNUM, 10),
        "H40" => r.string(HEX, 40),
        "B40" => r.string(B64, 40),
        "RT" => format!("1//0{}{}", r.string(ALNUM, 1), r.string(B64URL, 97)),
        "PEMJS" => pem_chain(r, "\\n\" +\n  \""),
        "PEMENCJS" => encrypted_chain(r, "\\n\" +\n  \""),
        "PEMENCPY" => encrypted_chain(r, "\\n\"\n    \""),

        "PEMPY" => pem_chain(r, "\\n\"\n    \""),
        "NKEY" => nkey(r, true, true),
        "NKEYBAD" => nkey(r, true, false),
        "NKEYPUB" => nkey(r, false, true),
        "B" => format!("{}=", r.string(B64, 43)),
        "H" => r.string(HEX, 32),
        "H64" => r.string(HEX, 64),
        "H128" => r.string(HEX, 128),
        // A Laravel `APP_KEY`: `base64:` and the key's base64, taken whole.
        "LARAVEL" => format!("base64:{}=", r.string(B64, 43)),
        "U" => format!(
            "{}-{}-4{}-a{}-{}",
            r.string(HEX, 8),
            r.string(HEX, 4),
            r.string(HEX, 3),
            r.string(HEX, 3),
            r.string(HEX, 12)
        ),
        "BASIC" => base64::engine::general_purpose::STANDARD.encode(format!(
            "svc-{}:{}",
            r.string(ALNUM, 4),
            password(r, 14, b"!*-")
        )),
        "BCRYPT" => r.string(
            b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            53,
        ),
        "AKID" => format!("AKIA{}", r.string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
        _ => return None,
    };
    Some((v.clone(), v))
}

/// Replace every marker of `text` by a fresh value; returns the text and the label of its first marker that
/// labels a secret (a certificate's marker labels none).
pub fn fill(r: &mut Rng, text: &str) -> io::Result<(String, Option<String>)> {
    let mut out = String::new();
    let mut first = None;
    let mut rest = text;
    while let Some(i) = rest.find('«') {
        out.push_str(&rest[..i]);
        let after = &rest[i + '«'.len_utf8()..];
        let j = after
            .find('»')
            .ok_or_else(|| io::Error::other(format!("unclosed marker in {text:?}")))?;
        let (v, label) = value(r, &after[..j])
            .ok_or_else(|| io::Error::other(format!("unknown marker in {text:?}")))?;
        if !label.is_empty() {
            first.get_or_insert(label);
        }
        out.push_str(&v);
        rest = &after[j + '»'.len_utf8()..];
    }
    out.push_str(rest);
    Ok((out, first))
}

/// Write `cases` under `dir` (one folder per case, so that no case lends another context) and plant each
/// expected finding.
pub(super) fn write_cases(t: &mut Tree, r: &mut Rng, dir: &str, cases: &[Case]) -> io::Result<()> {
    for (i, (name, text, expect)) in cases.iter().enumerate() {
        let rel = format!("{dir}/{i:03}/{name}");
        let (body, secret) = fill(r, text)?;
        t.write(&rel, &body)?;
        if let Find(rule) = expect {
            let secret = secret.ok_or_else(|| {
                io::Error::other(format!("positive case without a marker: {text:?}"))
            })?;
            t.plant(rule, &secret, &rel);
        }
    }
    Ok(())
}

/// Plant the `DEV` cases (the accuracy corpus's generic section).
pub(super) fn plant(t: &mut Tree, r: &mut Rng) -> io::Result<()> {
    write_cases(t, r, "generic", DEV)
}
