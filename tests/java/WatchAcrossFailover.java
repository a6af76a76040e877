// ZooKeeper's Java client, unmodified, keeps a watch when its session moves
// to another member: it connects to args[0] (a connect string), watches
// args[1] with getData, says which server it is on ("on PORT"), then waits
// for the event, which it prints ("event NodeDataChanged PATH"). The test
// kills that member and changes the node; the client re-arms its watch on
// the member it moves to (SetWatches, with the last zxid it saw).
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;

public class WatchAcrossFailover {
    public static void main(String[] args) throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(args[0], 10000, event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        if (!connected.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("not connected");
        }
        CountDownLatch fired = new CountDownLatch(1);
        zk.getData(args[1], event -> {
            // Every watcher also hears the connection's state changes (type None).
            if (event.getType() != Watcher.Event.EventType.None) {
                System.out.println("event " + event.getType() + " " + event.getPath());
                fired.countDown();
            }
        }, null);
        Matcher on = Pattern.compile("remoteserver:\\S*:(\\d+)").matcher(zk.toString());
        System.out.println("on " + (on.find() ? on.group(1) : "?"));
        System.out.flush();
        if (!fired.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("no event");
        }
        zk.close();
    }
}
