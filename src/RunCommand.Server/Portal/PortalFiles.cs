using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using RunCommand.Server.Hosting;

namespace RunCommand.Server.Portal;

/// <summary>
/// Serves the web portal's static files at <c>/portal</c> (and redirects <c>/</c> there), ahead of authentication:
/// the files hold no data, the portal itself calls the public API with the user's token (docs/portal.md). When the
/// files are missing (the build ran without Node.js) the portal's address answers a page saying so; the API works
/// either way.
/// </summary>
public static class PortalFiles
{
    public const string Path = "/portal";

    /// <summary>
    /// Scripts, styles and API calls only from this origin, no inline script, no framing. The API's own responses
    /// keep their stricter headers.
    /// </summary>
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static void UsePortal(this WebApplication app)
    {
        var configured = app.Services.GetRequiredService<IOptions<ServerOptions>>().Value.PortalDir;
        var directory = System.IO.Path.GetFullPath(configured ?? System.IO.Path.Combine(AppContext.BaseDirectory, "portal"));
        var index = System.IO.Path.Combine(directory, "index.html");

        app.Use(async (http, next) =>
        {
            if (http.Request.Path == "/" && (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method)))
            {
                http.Response.Redirect(Path + "/");
                return;
            }

            await next(http);
        });

        app.Map(Path, portal =>
        {
            portal.Use(async (http, next) =>
            {
                if (http.Request.Path == "" && http.Request.PathBase == Path)
                {
                    http.Response.Redirect(Path + "/");
                    return;
                }

                var headers = http.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers["Referrer-Policy"] = "no-referrer";
                await next(http);
            });

            if (File.Exists(index))
            {
                var files = new PhysicalFileProvider(directory);
                portal.UseStaticFiles(new StaticFileOptions
                {
                    FileProvider = files,
                    OnPrepareResponse = context =>
                    {
                        // File names under assets/ carry a content hash: cache them for good; index.html always fresh.
                        context.Context.Response.Headers.CacheControl = context.Context.Request.Path.StartsWithSegments("/assets")
                            ? "public, max-age=31536000, immutable"
                            : "no-cache";
                    },
                });
            }

            portal.Run(async http =>
            {
                if (!HttpMethods.IsGet(http.Request.Method) && !HttpMethods.IsHead(http.Request.Method))
                {
                    http.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
                    return;
                }

                // The portal routes in the URL fragment, so every other path is index.html (or the not-built page).
                http.Response.Headers.CacheControl = "no-cache";
                http.Response.ContentType = "text/html; charset=utf-8";
                if (File.Exists(index))
                {
                    await http.Response.SendFileAsync(index, http.RequestAborted);
                    return;
                }

                http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                await http.Response.WriteAsync(NotBuiltPage(directory), http.RequestAborted);
            });
        });
    }

    private static string NotBuiltPage(string directory) => $$"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>RunCommand portal: not built</title></head>
        <body>
        <main>
        <h1>The RunCommand portal is not built</h1>
        <p>This server has no portal files in <code>{{System.Net.WebUtility.HtmlEncode(directory)}}</code>.
        The API, the CLI and the agents work without them.</p>
        <p>To build the portal, install Node.js 20 or later with npm and run <code>dotnet build</code> again
        (it runs <code>npm ci</code> and <code>npm run build</code> in <code>src/RunCommand.Portal</code>), then restart the server.</p>
        </main>
        </body></html>
        """;
}
