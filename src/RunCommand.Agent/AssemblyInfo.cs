using System.Runtime.Versioning;

// The agent runs scripts in Linux process groups (setsid, /proc, kill(-pgid)); it has no other platform.
[assembly: SupportedOSPlatform("linux")]
