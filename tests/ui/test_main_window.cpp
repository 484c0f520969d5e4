// GUI smoke test: opens the main window (under Xvfb in ctest), checks its parts, saves a
// screenshot to <build>/screenshots/main_window.png and closes cleanly.
#include <QDir>
#include <QDockWidget>
#include <QImage>
#include <QLineEdit>
#include <QListWidget>
#include <QMenuBar>
#include <QScreen>
#include <QTest>

#include "quire/ui/main_window.h"

class TestMainWindow : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QCoreApplication::setOrganizationName("quire-tests");  // keep the user's layout untouched
        QCoreApplication::setApplicationName("ui_main_window");
    }
    void opensAndScreenshots()
    {
        quire::ui::MainWindow w;
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        w.activateWindow();  // Xvfb has no window manager to do it
        QVERIFY(QTest::qWaitForWindowActive(&w));
        QCOMPARE(w.windowTitle(), QString("Quire"));
        QVERIFY(w.findChild<QDockWidget*>("workspacesDock"));
        QVERIFY(w.findChild<QLineEdit*>("question"));
        QCOMPARE(w.menuBar()->actions().size(), 3);

        // Ctrl+L focuses the question box.
        QTest::keyClick(&w, Qt::Key_L, Qt::ControlModifier);
        QTRY_VERIFY(w.findChild<QLineEdit*>("question")->hasFocus());

        const QString dir = QStringLiteral(QUIRE_BINARY_DIR) + "/screenshots";
        QDir().mkpath(dir);
        const QImage shot = w.grab().toImage();
        QVERIFY(!shot.isNull());
        QVERIFY(shot.width() >= 800);
        QVERIFY(shot.save(dir + "/main_window.png"));
        w.close();
        QVERIFY(!w.isVisible());
    }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
