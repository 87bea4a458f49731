/*
   Spoor's own YARA rules for the web shells of the Exchange intrusions of 2021-2022: written from the
   published descriptions (Microsoft, Volexity, CISA AR21-084A), not copied from other rule sets.
   Richer public sets (e.g. Neo23x0/signature-base) can be added with --yara.
*/

rule Spoor_Exchange_OAB_VirtualDirectory_Shell
{
   meta:
      description = "OAB virtual directory settings written to a page with script in ExternalUrl (CVE-2021-27065, March 2021)"
      author = "Spoor"
      reference = "https://www.microsoft.com/en-us/security/blog/2021/03/02/hafnium-targeting-exchange-servers/"
   strings:
      $url = "ExternalUrl" ascii nocase
      $script = /<script[^>]{0,64}runat\s*=\s*"?server/ ascii nocase
      $oab = "OfflineAddressBooks" ascii nocase
   condition:
      filesize < 1MB and $url and $script and $oab
}

rule Spoor_ASPX_Eval_Request_Unsafe
{
   meta:
      description = "ASP.NET page evaluating request data as JScript with the unsafe flag (China Chopper and its kin)"
      author = "Spoor"
      reference = "https://www.volexity.com/blog/2021/03/02/active-exploitation-of-microsoft-exchange-zero-day-vulnerabilities/"
   strings:
      $eval = /eval\s*\(\s*Request(\.Item)?\s*\[[^\]]{1,64}\]\s*,\s*["']unsafe["']\s*\)/ ascii nocase
   condition:
      filesize < 1MB and $eval
}

rule Spoor_Mailbox_Export_Shell
{
   meta:
      description = "Mailbox exported as a page (PST header or export marker) holding script (ProxyShell, CVE-2021-31207)"
      author = "Spoor"
      reference = "https://www.zerodayinitiative.com/blog/2021/8/17/from-pwn2own-2021-a-new-attack-surface-on-microsoft-exchange-proxyshell"
   strings:
      $pst = { 21 42 44 4E }
      $script = /<script[^>]{0,64}runat\s*=\s*"?server/ ascii nocase
   condition:
      $pst at 0 and $script
}
