import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * The reference for hsmsim's "java" zip layout: what a Java service (TSB) writes with
 * java.util.zip.ZipOutputStream when it gives each entry only a name and a time.
 *
 * usage: java -Duser.timezone=UTC TsbZip.java OUT.zip EPOCH_MILLIS MEMBER_FILE...
 * Each member is stored under its file name, in the order given.
 */
public class TsbZip {
    public static void main(String[] args) throws IOException {
        long millis = Long.parseLong(args[1]);
        try (ZipOutputStream out = new ZipOutputStream(new FileOutputStream(args[0]))) {
            for (int i = 2; i < args.length; i++) {
                Path member = Paths.get(args[i]);
                ZipEntry entry = new ZipEntry(member.getFileName().toString());
                entry.setTime(millis);
                out.putNextEntry(entry);
                out.write(Files.readAllBytes(member));
                out.closeEntry();
            }
        }
    }
}
